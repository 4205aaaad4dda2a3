from pathlib import Path

import pytest

from bmsc_dge.config import load_config
from bmsc_dge.errors import ConfigError

from .conftest import ROOT, edit_config


def test_example_config_resolves_paths_relative_to_file():
    cfg = load_config(ROOT / "configs" / "example.yaml")
    assert cfg.counts == (ROOT / "data" / "example" / "counts.tsv.gz").resolve()
    assert cfg.contrasts[0].reference == "control"
    assert cfg.design_variables == ["batch", "sex", "condition"]
    assert cfg.alpha == 0.05


def test_outdir_override(small_study, tmp_path):
    cfg = load_config(small_study["config"], outdir=tmp_path / "elsewhere")
    assert cfg.outdir == (tmp_path / "elsewhere").resolve()


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"colour": "blue"}, "unknown key 'colour'"),
        ({"alpha": "lots"}, "key 'alpha'"),
        ({"alpha": 1.5}, "key 'alpha'"),
        ({"de": {"n_cpus": 1, "shrink_harder": True}}, "unknown key 'de.shrink_harder'"),
        ({"design": "batch + condition"}, "must be a formula starting with '~'"),
        (
            {
                "contrasts": [
                    {"name": "../../etc", "variable": "condition", "target": "T2DM", "reference": "control"}
                ]
            },
            "contrast name",
        ),
        (
            {"contrasts": [{"name": "a", "variable": "condition", "target": "T2DM", "reference": "T2DM"}]},
            "target and reference are both",
        ),
        ({"species": "zebrafish"}, "key 'species'"),
        # the collection registry (genesets/data/collections.json) is what validation reads
        (
            {"gene_sets": {"collections": ["curated", "kegg"]}},
            "unknown collection(s) 'kegg': built in are curated, hallmark, go_bp",
        ),
    ],
)
def test_bad_config_names_the_key(small_study, changes, needle):
    edit_config(small_study["config"], **changes)
    with pytest.raises(ConfigError) as exc:
        load_config(small_study["config"])
    assert needle in str(exc.value)
    assert str(small_study["config"]) in str(exc.value)


def test_missing_required_key(small_study):
    import yaml

    cfg = yaml.safe_load(small_study["config"].read_text())
    del cfg["alpha"]
    small_study["config"].write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError, match="required key 'alpha' is missing"):
        load_config(small_study["config"])


def test_yaml_python_object_tags_are_refused(tmp_path: Path):
    p = tmp_path / "evil.yaml"
    p.write_text("counts: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_not_a_mapping(tmp_path: Path):
    p = tmp_path / "list.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)
