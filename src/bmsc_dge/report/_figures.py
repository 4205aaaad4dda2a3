"""Write every figure of a run (PNG + SVG) from its computed tables.

Layout under the run folder::

    figures/qc/library_sizes, correlation, pca_<variable>
    figures/de/<contrast>.volcano, .ma, .heatmap
    figures/gsea/<contrast>/<set id>.running   (every curated set)
    figures/gsea/curated_dotplot               (NES x FDR across sets and contrasts)
    figures/targets/<contrast>.evidence
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from functools import partial

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bmsc_dge import pl
from bmsc_dge._fork import Claims, Forked
from bmsc_dge.calls import significant
from bmsc_dge.config import CURATED, StudyConfig
from bmsc_dge.errors import FigureError
from bmsc_dge.pp import QCResult, heatmap_matrix
from bmsc_dge.runs import RunDir
from bmsc_dge.tl import ContrastResult

logger = logging.getLogger(__name__)


def _save(run: RunDir, fig: object, *parts: str) -> str:
    stem = run.path(*parts)
    pl.save_figure(fig, stem)  # type: ignore[arg-type]
    return str((stem.parent / f"{stem.name}.png").relative_to(run.partial))


def volcano_labels(result: ContrastResult, alpha: float, n_targets: int = 10, n_top: int = 5) -> list[str]:
    """Symbols to label: the top targets plus the most significant genes."""
    sig = result.de[significant(result.de, alpha)]
    return list(dict.fromkeys([*result.targets["symbol"].head(n_targets), *sig["symbol"].head(n_top)]))


def _draw_share(
    run: RunDir, cfg: StudyConfig, results: list[ContrastResult], qc: QCResult, claims: Claims
) -> list[tuple[int, str, str]]:
    """Draw the figures ``claims`` gives this process, in figure order; return ``(i, label, path)``.

    Every process walks all figures in the same order (figure ``i`` is the ``i``-th asked for)
    and draws those it claims.
    """
    out: list[tuple[int, str, str]] = []
    counter = itertools.count()

    def mine() -> int | None:
        i = next(counter)
        return i if claims.claim(i) else None

    def emit(label: str, build: Callable[[], Figure | Axes], *parts: str) -> None:
        i = mine()
        if i is not None:
            out.append((i, label, _save(run, build(), *parts)))

    design_vars = [v for v in cfg.design_variables if v in qc.pca.columns]
    categorical = [v for v in design_vars if not pd.api.types.is_float_dtype(qc.pca[v])]
    main_var = next(
        (c.variable for c in cfg.contrasts if c.variable), categorical[0] if categorical else None
    )
    emit(
        "qc/library_sizes",
        lambda: pl.library_sizes(qc.samples, color=main_var),
        "figures",
        "qc",
        "library_sizes",
    )
    emit("qc/correlation", lambda: pl.correlation_heatmap(qc.correlation), "figures", "qc", "correlation")
    for var in categorical:
        marker = main_var if var != main_var else None
        emit(
            f"qc/pca_{var}",
            partial(pl.pca_plot, qc.pca, qc.variance_ratio, color=var, marker=marker),
            "figures",
            "qc",
            f"pca_{var}",
        )
    dots = []
    for r in results:
        n = r.contrast.name
        labels = volcano_labels(r, cfg.alpha)
        title = f"{n}: {r.contrast.label}"
        emit(
            f"de/{n}/volcano",
            partial(pl.volcano, r.de, alpha=cfg.alpha, label=labels, title=title),
            "figures",
            "de",
            f"{n}.volcano",
        )
        emit(
            f"de/{n}/ma",
            partial(pl.ma_plot, r.de, alpha=cfg.alpha, label=labels[:10], title=title),
            "figures",
            "de",
            f"{n}.ma",
        )
        top = r.de[r.de["padj"].notna()].head(40)
        top = top[top["gene_id"].isin(qc.vst.columns)]
        if len(top):
            z = heatmap_matrix(qc.vst, list(top["gene_id"]), labels=list(top["symbol"]))
            groups = qc.pca.set_index("sample")[main_var] if main_var else pd.Series(dtype=str)
            emit(
                f"de/{n}/heatmap",
                partial(pl.top_gene_heatmap, z, groups, title=f"{n}: top {len(top)} genes"),
                "figures",
                "de",
                f"{n}.heatmap",
            )
        cur = r.gsea[r.gsea["collection"] == CURATED]
        if r.ranking is not None:
            out.extend(_running_score_figures(run, r, cur, r.ranking, mine))
        dots.append(cur.assign(contrast=n)[["term", "contrast", "nes", "fdr"]])
        if len(r.ora) and (r.ora["overlap"] > 0).any():
            emit(
                f"ora/{n}",
                partial(pl.ora_dotplot, r.ora, fdr=cfg.gene_sets.fdr, title=f"{n}: over-representation"),
                "figures",
                "ora",
                f"{n}.ora_dotplot",
            )
        emit(
            f"targets/{n}",
            partial(pl.target_evidence, r.targets, cfg.targets.weights, title=f"{n}: top targets"),
            "figures",
            "targets",
            f"{n}.evidence",
        )
    if dots and any(len(d) for d in dots):
        emit(
            "gsea/dotplot",
            lambda: pl.enrichment_dotplot(pd.concat(dots, ignore_index=True), fdr=cfg.gene_sets.fdr),
            "figures",
            "gsea",
            "curated_dotplot",
        )
    return out


def _running_score_figures(
    run: RunDir, r: ContrastResult, cur: pd.DataFrame, ranking: pd.Series, mine: Callable[[], int | None]
) -> list[tuple[int, str, str]]:
    """Running-score figures of the curated sets this process claims (``mine()`` numbers each set).

    One figure is reused for all of them (:func:`bmsc_dge.pl.running_scores`); each set still
    counts as one figure and is claimed just before it is drawn.
    """
    n = r.contrast.name
    stats = {
        t: (float(e), float(f))
        for t, e, f in zip(cur["term"].astype(str), cur["nes"], cur["fdr"], strict=True)
        if r.curves.get(t)
    }
    index: dict[str, int] = {}

    def keep(term: str) -> bool:
        i = mine()
        if i is not None:
            index[term] = i
        return i is not None

    return [
        (index[term], f"gsea/{n}/{term}", _save(run, fig, "figures", "gsea", n, f"{term}.running"))
        for term, fig in pl.running_scores(r.curves, stats, ranking, keep=keep)
    ]


class PendingFigures:
    """Figures being drawn in forked processes, which this process joins in :meth:`result`.

    Matplotlib draws in Python under the GIL, so threads do not help; ``processes`` forked
    children (:class:`bmsc_dge._fork.Forked`) start drawing while the parent writes the tables,
    and the parent draws beside them once it calls :meth:`result`. Each figure goes to whichever
    process reaches it first (:class:`bmsc_dge._fork.Claims`), so none waits while another still
    has several to draw. With one process nothing is forked and :meth:`result` draws them all.
    Figures are the same whichever process draws them. Create and collect a ``PendingFigures``
    in the same thread.
    """

    def __init__(
        self, run: RunDir, cfg: StudyConfig, results: list[ContrastResult], qc: QCResult, processes: int
    ) -> None:
        n = max(1, processes)
        self._draw = partial(_draw_share, run, cfg, results, qc, Claims())
        self._work: Forked[list[tuple[int, str, str]]] = Forked(
            [self._draw] * n if n > 1 else [], "drawing figures", FigureError
        )
        self._processes = n

    def cancel(self) -> None:
        """Stop and reap the drawing processes (when the run fails before :meth:`result`)."""
        self._work.cancel()

    def result(self) -> dict[str, str]:
        """Draw what the children have not claimed, wait for them; ``label -> PNG path relative to the run folder``."""
        try:
            own = self._draw()
        except BaseException:
            self._work.cancel()
            raise
        entries = [*own, *(e for part in self._work.result() for e in part)]
        out = {label: path for _, label, path in sorted(entries)}
        logger.info(
            "wrote %d figures (%d in this process, %d process(es))", len(out), len(own), self._processes
        )
        return out


def write_figures(
    run: RunDir, cfg: StudyConfig, results: list[ContrastResult], qc: QCResult, *, processes: int = 1
) -> dict[str, str]:
    """Draw and save all figures; return ``label -> PNG path relative to the run folder``.

    ``processes > 1`` draws them in that many forked processes and this one (see :class:`PendingFigures`).
    """
    return PendingFigures(run, cfg, results, qc, processes).result()
