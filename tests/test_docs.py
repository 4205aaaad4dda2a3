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


def test_data_readme_source_configs_validate(tmp_path):
    """Each YAML block of data/README.md's 'Sources other than a count table' validates as written
    (paths relative to the repository root, where the blocks say to save them)."""
    import re

    from typer.testing import CliRunner

    from bmsc_dge.cli import app

    text = (ROOT / "data" / "README.md").read_text()
    section = text[text.index("## Sources other than a count table") :]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 3
    for n, block in enumerate(blocks):
        config = ROOT / f".docs_block_{n}.yaml"
        config.write_text(block)
        try:
            result = CliRunner().invoke(app, ["validate", str(config)])
        finally:
            config.unlink()
        assert result.exit_code == 0, (block, result.output)
        assert "ok:" in result.output
