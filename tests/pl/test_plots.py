import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bmsc_dge import pl
from bmsc_dge.config import TargetWeights


def _de(n=300, seed=0):
    rng = np.random.default_rng(seed)
    lfc = rng.normal(0, 0.5, n)
    lfc[:5] = [-2.5, 1.8, -1.2, 1.4, -1.0]
    padj = np.clip(10 ** (-np.abs(lfc) * rng.uniform(1, 8, n)), 1e-40, 1)
    sym = ["FOXQ1", "LEP", "GPX4", "DKK1", "NIPA2"] + [f"G{i}" for i in range(5, n)]
    return pd.DataFrame(
        {
            "gene_id": [f"E{i}" for i in range(n)],
            "symbol": sym,
            "baseMean": rng.uniform(1, 1e4, n),
            "log2FoldChange": lfc,
            "log2FoldChange_shrunk": lfc * 0.9,
            "padj": padj,
        }
    )


def _texts(fig: Figure) -> set[str]:
    return {t.get_text() for ax in fig.axes for t in ax.texts}


def test_volcano_labels_requested_genes(tmp_path):
    ax = pl.volcano(_de(), alpha=0.05, label=["FOXQ1", "GPX4"], title="t")
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)  # scanpy's convention: the Axes
    assert {"FOXQ1", "GPX4"} <= _texts(ax.figure)
    png, svg = pl.save_figure(ax, tmp_path / "contrast.volcano")
    assert png.name == "contrast.volcano.png" and svg.name == "contrast.volcano.svg"
    assert png.stat().st_size > 5000 and svg.read_text().startswith("<?xml")


def test_ma_and_heatmap_and_targets(tmp_path):
    de = _de()
    ma = pl.ma_plot(de, alpha=0.05, label=["FOXQ1"])
    assert _texts(ma.figure) == {"FOXQ1"}
    points = ma.collections[0].get_offsets()
    assert len(points) == len(de)  # every gene with a positive mean is drawn
    # y is the shrunken log2 fold change, x the log10 mean, in the table's order
    np.testing.assert_allclose(points[:, 1], de["log2FoldChange_shrunk"])
    np.testing.assert_allclose(points[:, 0], np.log10(de["baseMean"]))
    z = pd.DataFrame(
        np.random.default_rng(1).normal(size=(5, 6)), index=list("ABCDE"), columns=[f"S{i}" for i in range(6)]
    )
    groups = pd.Series(["a", "a", "a", "b", "b", "b"], index=z.columns)
    heat = pl.top_gene_heatmap(z, groups)
    image = heat.images[0]
    np.testing.assert_allclose(np.asarray(image.get_array()), z.to_numpy())
    vmin, vmax = image.get_clim()
    assert vmin == -vmax == -float(np.abs(z.to_numpy()).max())  # symmetric colour scale
    assert [t.get_text() for t in heat.get_yticklabels()] == list("ABCDE")
    targets = pd.DataFrame(
        {
            "symbol": ["FOXQ1", "LEP"],
            "direction": ["down", "up"],
            "de_score": [0.9, 0.7],
            "leading_edge_score": [0.5, 0.0],
            "prior_score": [1.0, 0.75],
        }
    )
    widths = [p.get_width() for p in pl.target_evidence(targets, TargetWeights()).patches]
    assert len(widths) == 6  # 2 targets x 3 components
    # bars are drawn bottom-up (LEP first); the DE segments carry weight 0.6 x de_score
    np.testing.assert_allclose(sorted(widths[:2]), sorted([0.6 * 0.7, 0.6 * 0.9]))


def test_gsea_plots():
    ranking = pd.Series(np.linspace(5, -5, 200), index=[f"G{i}" for i in range(200)])
    curve = {"res": list(np.sin(np.linspace(0, 3, 200))), "hits": [1, 5, 9]}
    fig = pl.running_score(curve, ranking, term="SET", nes=2.0, fdr=0.0).figure
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), curve["res"])  # the running score
    hits = fig.axes[1].collections[0].get_segments()
    assert [float(seg[0][0]) for seg in hits] == [1.0, 5.0, 9.0]  # one mark per hit position
    g = pd.DataFrame(
        {
            "term": ["A", "B", "A", "B"],
            "contrast": ["c1", "c1", "c2", "c2"],
            "nes": [2.0, -1.5, 0.3, -2.2],
            "fdr": [0.001, 0.04, 0.8, 0.0],
        }
    )
    ax = pl.enrichment_dotplot(g)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c1", "c2"]
    # one contrast's table, no contrast column: the top sets by FDR of the chosen collection
    one = g[g["contrast"] == "c1"].drop(columns="contrast").assign(collection=["curated", "hallmark"])
    dots = pl.gsea_dotplot(one)
    assert [t.get_text() for t in dots.get_yticklabels()] == ["A"]
    assert len(pl.gsea_dotplot(one, collection=None).collections[0].get_offsets()) == 2


def test_qc_plots():
    scores = pd.DataFrame(
        {
            "sample": ["a", "b", "c", "d"],
            "PC1": [1, 2, -1, -2],
            "PC2": [0, 1, 0, -1],
            "condition": ["x", "x", "y", "y"],
            "batch": ["1", "2", "1", "2"],
        }
    )
    ratio = pd.Series({"PC1": 0.6, "PC2": 0.2})
    ax = pl.pca_plot(scores, ratio, color="condition", marker="batch")
    assert "60.0%" in ax.get_xlabel()
    corr = pd.DataFrame(np.eye(3), index=list("abc"), columns=list("abc"))
    heat = pl.correlation_heatmap(corr)
    np.testing.assert_allclose(np.asarray(heat.images[0].get_array()), corr.to_numpy())
    qc = pd.DataFrame(
        {
            "sample": list("abc"),
            "library_size": [1e7, 2e7, 3e7],
            "detected_genes": [1, 2, 3],
            "condition": ["x", "y", "y"],
        }
    )
    bars = pl.library_sizes(qc, color="condition").patches
    assert [b.get_height() for b in bars] == [10.0, 20.0, 30.0]  # millions of reads
    assert bars[1].get_facecolor() == bars[2].get_facecolor() != bars[0].get_facecolor()  # by condition


def test_running_scores_reuses_one_figure_and_matches_single_drawings(tmp_path):
    ranking = pd.Series(np.linspace(3, -3, 200), index=[f"G{i}" for i in range(200)])
    curves = {
        "UP": {"res": list(np.sin(np.linspace(0, 3, 200))), "hits": [1, 5, 9]},
        "DOWN": {"res": list(-np.linspace(0, 1, 200)), "hits": [150, 190]},
        "NOCURVE": {},
    }
    stats = {"DOWN": (-1.5, 0.2), "UP": (2.0, 0.001), "NOCURVE": (1.0, 1.0)}
    seen = []
    for term, fig in pl.running_scores(curves, stats, ranking):
        single = pl.running_score(
            curves[term], ranking, term=term, nes=stats[term][0], fdr=stats[term][1]
        ).figure
        line, ref = fig.axes[0].lines[0], single.axes[0].lines[0]
        np.testing.assert_array_equal(line.get_ydata(), ref.get_ydata())
        assert line.get_color() == ref.get_color()
        assert fig.axes[0].get_title() == single.axes[0].get_title()
        segs = fig.axes[1].collections[0].get_segments()
        assert [s[0][0] for s in segs] == curves[term]["hits"]
        assert fig.axes[0].get_ylim()[0] <= min(curves[term]["res"]) and fig.axes[0].get_ylim()[1] >= max(
            curves[term]["res"]
        )
        pl.save_figure(fig, tmp_path / term)
        seen.append(term)
    assert seen == ["DOWN", "UP"]  # stats order; sets without a curve skipped
    assert (tmp_path / "UP.svg").exists() and (tmp_path / "DOWN.png").exists()


def test_running_scores_drawn_in_part_equal_those_drawn_in_full(tmp_path):
    """``keep`` skips sets (another process draws them): each set kept is saved to the same PNG
    bytes as when every set is drawn, even when the first set (whose save fixes the layout) is
    skipped and the sets' y-axes differ in width."""
    rng = np.random.default_rng(4)
    ranking = pd.Series(np.sort(rng.normal(0, 2, 300))[::-1], index=[f"G{i}" for i in range(300)])
    curves = {
        f"SET_{k}": {
            "res": list(scale * np.sin(np.linspace(0, 3 + k, 300))),
            "hits": sorted(rng.choice(300, 8)),
        }
        for k, scale in enumerate([0.05, 1.0, -0.6, 0.35])
    }
    stats = {t: (float(k) - 1.5, 0.01 * (k + 1)) for k, t in enumerate(curves)}
    for term, fig in pl.running_scores(curves, stats, ranking):
        pl.save_figure(fig, tmp_path / "all" / term)
    asked = []

    def keep(term: str) -> bool:
        asked.append(term)
        return term in ("SET_1", "SET_3")

    drawn = [
        term
        for term, fig in pl.running_scores(curves, stats, ranking, keep=keep)
        if pl.save_figure(fig, tmp_path / "part" / term)
    ]
    assert asked == list(curves) and drawn == ["SET_1", "SET_3"]
    for term in drawn:
        assert (tmp_path / "part" / f"{term}.png").read_bytes() == (
            tmp_path / "all" / f"{term}.png"
        ).read_bytes()


def test_running_scores_that_keep_no_set_draw_nothing(monkeypatch):
    """A process that claims none of a contrast's sets builds and lays out no figure for them."""
    import bmsc_dge.pl.gsea as gsea_plots

    def no_figure(*args, **kwargs):
        raise AssertionError("a figure was built for sets no one asked for")

    monkeypatch.setattr(gsea_plots, "running_score", no_figure)
    ranking = pd.Series(np.linspace(3, -3, 50), index=[f"G{i}" for i in range(50)])
    curves = {"A": {"res": [0.1] * 50, "hits": [1]}, "B": {"res": [-0.1] * 50, "hits": [2]}}
    asked: list[str] = []

    def keep(term: str) -> bool:
        asked.append(term)
        return False

    drawn = list(pl.running_scores(curves, {"A": (1.0, 0.1), "B": (-1.0, 0.2)}, ranking, keep=keep))
    assert drawn == [] and asked == ["A", "B"]


def test_running_score_curve_drawn_at_its_bends_is_the_same_line():
    """The curve keeps only its bends: interpolating them gives back every point; the ranked
    metric's outline keeps both ends and the sign change."""
    from bmsc_dge.pl.gsea import monotone_outline, polyline_vertices

    rng = np.random.default_rng(3)
    n, hits = 5000, np.sort(rng.choice(5000, 40, replace=False))
    step = np.full(n, -1.0 / (n - hits.size))
    step[hits] = rng.uniform(0.01, 0.05, hits.size)
    res = np.cumsum(step)
    x = polyline_vertices(res)
    assert x.size < 3 * hits.size + 2  # bends only
    assert np.allclose(np.interp(np.arange(n), x, res[x]), res, rtol=0, atol=1e-12)
    metric = np.sort(rng.normal(size=n))[::-1]
    keep = monotone_outline(metric, points=200)
    assert keep[0] == 0 and keep[-1] == n - 1 and keep.size <= 203
    crossing = int(np.flatnonzero(np.diff(np.sign(metric)) != 0)[0])
    assert {crossing, crossing + 1} <= set(keep.tolist())
