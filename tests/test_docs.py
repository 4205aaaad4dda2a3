"""The Python quick start in docs/api.md runs as written, and finds what it planted."""

import re

from .conftest import ROOT


def test_api_quick_start_runs():
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "docs/api.md", "exec"), namespace)
    de = namespace["de"].set_index("symbol")
    assert de.loc["FOXQ1", "padj"] < 0.05 and de.loc["FOXQ1", "log2FoldChange"] < 0
    assert de.loc["LEP", "log2FoldChange"] > 0
    tg = namespace["tg"]
    assert bool(tg.set_index("symbol").loc["FOXQ1", "supported_by_data"])
    assert namespace["ax"].get_xlabel() == "log2 fold change"
