"""The short Markdown summary of a study run (``summary.md``, also the Prefect summary artifact)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bmsc_dge.calls import de_counts
from bmsc_dge.config import CURATED, StudyConfig
from bmsc_dge.study import design_text
from bmsc_dge.tl import ContrastResult, no_signal_note


def _input_lines(inputs: dict[str, Any]) -> list[str]:
    """Summary bullets for the design variables and the decisions taken on the input."""
    lines = (
        [f"- design variables: {design_text(inputs['design_variables'])}"]
        if inputs.get("design_variables")
        else []
    )
    return lines + [f"- input: {note}" for note in inputs.get("notes", [])]


def _ora_line(ora: pd.DataFrame, fdr: float) -> str:
    """One summary bullet: sets over-represented among the up and the down genes."""
    if not len(ora):
        return "- over-representation (ORA): no significant genes to test"
    parts = []
    for direction in ("up", "down"):
        hit = ora[(ora["direction"] == direction) & (ora["padj"] < fdr)]
        names = ", ".join(hit["term"].astype(str).head(3))
        parts.append(f"{len(hit)} among the {direction} genes" + (f" ({names})" if names else ""))
    return f"- over-represented sets at padj < {fdr} (ORA, all collections): " + "; ".join(parts)


def summary_markdown(
    cfg: StudyConfig,
    results: list[ContrastResult],
    qc: pd.DataFrame,
    inputs: dict[str, Any] | None = None,
    top_n: int = 10,
) -> str:
    """A short Markdown summary of a run (also published as a Prefect artifact).

    ``inputs``: :meth:`bmsc_dge.study.Study.record` (design variables and input decisions).
    """
    lines = [f"# bmsc-dge run: {cfg.name}", ""]
    silent = [r.contrast.name for r in results if no_signal_note(r, cfg.alpha)]
    if silent:
        lines += [
            f"**No significant gene (padj < {cfg.alpha}) in: {', '.join(silent)}.** Targets listed for "
            "these contrasts are not supported by the data.",
            "",
        ]
    lines += [
        f"- design: `{cfg.design}`; species: {cfg.species}; alpha: {cfg.alpha}; seed: {cfg.seed}",
        f"- samples: {len(qc)}; library sizes {qc['library_size'].min() / 1e6:.1f}-"
        f"{qc['library_size'].max() / 1e6:.1f} M reads",
    ]
    lines += [*_input_lines(inputs or {}), ""]
    for r in results:
        c = r.contrast
        n = de_counts(r.de, cfg.alpha)
        cur = r.gsea[(r.gsea["collection"] == CURATED) & (r.gsea["fdr"] < cfg.gene_sets.fdr)]
        lines += [f"## {c.name}: {c.label}", ""]
        note = no_signal_note(r, cfg.alpha)
        if note:
            lines += [note, ""]
        lines += [
            f"- {n.significant} genes at padj < {cfg.alpha} ({n.up} up, {n.down} down) of {n.tested} tested",
            f"- curated gene sets at FDR < {cfg.gene_sets.fdr}: {len(cur)}",
            _ora_line(r.ora, cfg.gene_sets.fdr),
        ]
        t = r.targets
        if "stability_flag" in t and t["stability_flag"].astype(str).str.len().gt(0).any():
            one = t[t["stability_flag"].astype(str).str.startswith("rests on one sample")]
            lines.append(
                f"- stability (leave-one-sample-out): {len(one)} significant gene(s) rest on one sample"
                + (f": {', '.join(one['symbol'].astype(str).head(8))}" if len(one) else "")
            )
        if "novel_candidate" in t:
            novel = t[t["novel_candidate"].astype(bool)]
            if len(novel):
                lines.append(
                    f"- novel candidates (significant, in no curated set): {len(novel)}; strongest "
                    + ", ".join(novel["symbol"].astype(str).head(5))
                )
        lines.append("")
        if "direction_vs_expected" in cur:
            against = cur[cur["direction_vs_expected"] == "opposes"]
            if len(against):
                lines += [
                    "- **curated sets enriched against their expected T2DM direction**: "
                    + ", ".join(
                        f"{t} (NES {n:+.2f}, expected {e})"
                        for t, n, e in zip(
                            against["term"], against["nes"], against["expected_t2dm"], strict=True
                        )
                    ),
                    "",
                ]
        if len(cur):
            has_dir = "direction_vs_expected" in cur
            lines += ["| set | NES | FDR | expected | vs expected |", "|---|---|---|---|---|"]
            for x in cur.itertuples():
                exp = getattr(x, "expected_t2dm", "") if has_dir else ""
                vs = getattr(x, "direction_vs_expected", "") if has_dir else ""
                lines.append(f"| {x.term} | {x.nes:+.2f} | {x.fdr:.3g} | {exp} | {vs} |")
            lines.append("")
        lines += [
            "| rank | gene | score | direction | padj | supported | stability |",
            "|---|---|---|---|---|---|---|",
        ]
        top = t.head(top_n)
        supported = (
            top["supported_by_data"] if "supported_by_data" in top else pd.Series(False, index=top.index)
        )
        flag = top["stability_flag"] if "stability_flag" in top else pd.Series("", index=top.index)
        for rank, sym, score, direction, p, sup, fl in zip(
            top["rank"],
            top["symbol"],
            top["score"].to_numpy(dtype=float),
            top["direction"],
            top["padj"].to_numpy(dtype=float),
            supported.astype(bool),
            flag.fillna("").astype(str),
            strict=True,
        ):
            padj = "NA" if np.isnan(p) else f"{p:.2g}"
            lines.append(
                f"| {rank} | {sym} | {score:.3f} | {direction} | {padj} | {'yes' if sup else 'no'} | {fl} |"
            )
        lines.append("")
    return "\n".join(lines)
