import pandas as pd
import pytest

from bmsc_dge.config import Contrast
from bmsc_dge.errors import CountsError, DesignError, SampleSheetError
from bmsc_dge.io import match_samples, parse_counts
from bmsc_dge.study import check_full_rank, design_matrix_for, prepare_design_frame

C = Contrast(name="c", variable="condition", target="T2DM", reference="control")


def raw(rows: dict[str, list[str]], cols=("S1", "S2", "S3")) -> pd.DataFrame:
    return pd.DataFrame(rows, index=list(cols)).T.astype(str)


def test_integral_floats_are_fixed_with_warning(caplog):
    out = parse_counts(raw({"G1": ["12.0", "3", "0"], "G2": ["1", "2", "3"]}), "c.tsv")
    assert out.loc["G1", "S1"] == 12
    assert out.dtypes.unique().tolist() == ["int64"]
    assert "integral decimals" in caplog.text


@pytest.mark.parametrize(
    ("rows", "needle", "row", "col"),
    [
        ({"G1": ["1", "2.5", "3"]}, "non-integer count 2.5", 2, "S2"),
        ({"G1": ["1", "2", "3"], "G2": ["-1", "2", "3"]}, "negative count", 3, "S1"),
        ({"G1": ["1", "", "3"]}, "missing count", 2, "S2"),
        ({"G1": ["1", "NA", "3"]}, "missing count", 2, "S2"),
        ({"G1": ["1", "2", "abc"]}, "non-numeric count 'abc'", 2, "S3"),
        ({"G1": ["1", "1,234", "3"]}, "thousands separators", 2, "S2"),
        ({"G1": ["1", "inf", "3"]}, "non-numeric", 2, "S2"),
    ],
)
def test_bad_counts_name_row_and_column(rows, needle, row, col):
    with pytest.raises(CountsError) as exc:
        parse_counts(raw(rows), "counts.tsv")
    msg = str(exc.value)
    assert needle in msg
    assert f"row {row}" in msg and f"column '{col}'" in msg and "counts.tsv" in msg
    assert "->" in msg  # says what to do


def test_duplicated_and_empty_gene_ids():
    df = raw({"G1": ["1", "2", "3"]})
    dup = pd.concat([df, df])
    with pytest.raises(CountsError, match="appears 2 times"):
        parse_counts(dup, "c.tsv")
    empty = df.copy()
    empty.index = [""]
    with pytest.raises(CountsError, match="empty gene ID"):
        parse_counts(empty, "c.tsv")


def _sheet(ids, cond=None):
    return pd.DataFrame({"condition": cond or ["T2DM"] * len(ids)}, index=pd.Index(ids, name="sample"))


def test_sample_matching_reorders_to_matrix():
    out = match_samples(["S2", "S1"], _sheet(["S1", "S2"]), "c.tsv", "s.tsv")
    assert list(out.index) == ["S2", "S1"]


@pytest.mark.parametrize(
    ("cols", "ids", "needle"),
    [
        (["S1", "S2", "S3"], ["S1", "S2"], "have no row in the sample sheet: S3"),
        (["S1"], ["S1", "S2"], "have no column in the counts: S2"),
        (["s1", "S2"], ["S1", "S2"], "spelled 'S1'"),
        (["S1", "S2"], ["S1", "S1"], "appears twice"),
    ],
)
def test_sample_mismatches(cols, ids, needle):
    with pytest.raises(SampleSheetError, match=needle):
        match_samples(cols, _sheet(ids), "c.tsv", "s.tsv")


def _obs(n_t=3, n_c=3, batch=None):
    cond = ["T2DM"] * n_t + ["control"] * n_c
    ids = [f"S{i}" for i in range(len(cond))]
    df = pd.DataFrame(
        {
            "condition": cond,
            "batch": batch or ["a", "b"] * (len(cond) // 2) + ["a"] * (len(cond) % 2),
            "age": [50.3 + i for i in range(len(cond))],
        },
        index=ids,
    )
    return df


def test_design_frame_types():
    f = prepare_design_frame(_obs(), ["batch", "age", "condition"], [C], "~ batch + age + condition", "s.tsv")
    assert f["age"].dtype == float
    assert f["condition"].dtype == object


@pytest.mark.parametrize(
    ("obs", "variables", "contrast", "needle"),
    [
        (_obs(), ["donor", "condition"], C, "design variable 'donor' is not a column"),
        (
            _obs(),
            ["condition"],
            Contrast(name="c", variable="condition", target="t2dm", reference="control"),
            "did you mean",
        ),
        (
            _obs(),
            ["condition"],
            Contrast(name="c", variable="condition", target="obese", reference="control"),
            "levels present: T2DM, control",
        ),
        (_obs(n_t=1, n_c=3), ["condition"], C, "has 1 sample(s); at least 2"),
        (_obs().assign(condition="T2DM"), ["condition"], C, "only one level"),
        (_obs(), ["batch"], C, "which is not in the design"),
    ],
)
def test_design_errors(obs, variables, contrast, needle):
    with pytest.raises(DesignError) as exc:
        prepare_design_frame(obs, variables, [contrast], "~ " + " + ".join(variables), "samples.tsv")
    assert needle in str(exc.value)


def test_two_replicates_warns_about_power(caplog):
    prepare_design_frame(_obs(n_t=2, n_c=2), ["condition"], [C], "~ condition", "s.tsv")
    assert "power is low" in caplog.text


def test_missing_value_in_design_variable():
    obs = _obs()
    obs.loc["S2", "batch"] = ""
    with pytest.raises(DesignError, match="missing value for sample 'S2'"):
        prepare_design_frame(obs, ["batch", "condition"], [C], "~ batch + condition", "s.tsv")


def _full_rank_check(obs, variables, design):
    from bmsc_dge.config import StudyConfig

    cfg = StudyConfig(counts="c", samples="s", design=design, contrasts=[C], alpha=0.05)
    frame = prepare_design_frame(obs, variables, [C], design, "s.tsv")
    check_full_rank(design_matrix_for(frame[variables], design, cfg), frame, variables, "samples.tsv")


def test_batch_confounded_with_condition_names_both():
    obs = _obs(batch=["b1", "b1", "b1", "b2", "b2", "b2"])
    with pytest.raises(DesignError) as exc:
        _full_rank_check(obs, ["batch", "condition"], "~ batch + condition")
    assert "'batch' and 'condition' are fully confounded" in str(exc.value)


def test_collinear_continuous_covariates_named():
    obs = _obs()
    obs["age2"] = obs["age"] * 2
    with pytest.raises(DesignError, match="colliding columns: age, age2"):
        _full_rank_check(obs, ["age", "age2", "condition"], "~ age + age2 + condition")


def test_balanced_design_passes():
    _full_rank_check(_obs(), ["batch", "condition"], "~ batch + condition")


# --- design variables typed as the person means them (issue 21, part 1) -------------------------


def _donor_obs(donors=(720, 714, 713)):
    ids = [f"S{i}" for i in range(2 * len(donors))]
    return pd.DataFrame(
        {
            "donor": [str(d) for d in donors for _ in range(2)],
            "status": ["undiff", "osteo"] * len(donors),
        },
        index=ids,
    )


ST = Contrast(name="o", variable="status", target="osteo", reference="undiff")


def test_undeclared_whole_numbers_are_refused_with_both_fixes():
    with pytest.raises(DesignError) as exc:
        prepare_design_frame(_donor_obs(), ["donor", "status"], [ST], "~ donor + status", "s.tsv")
    msg = str(exc.value)
    assert msg.startswith("s.tsv, column 'donor':")
    assert "720, 714, 713" in msg
    assert "variables: {donor: factor}" in msg and "variables: {donor: numeric}" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("kwargs", "design", "expected"),
    [
        ({"variables": {"donor": "factor"}}, "~ donor + status", object),
        ({"variables": {"donor": "numeric"}}, "~ donor + status", float),
        ({}, "~ C(donor) + status", object),
        ({"reference_levels": {"donor": "713"}}, "~ donor + status", object),
    ],
)
def test_declared_whole_number_variables(kwargs, design, expected):
    variables = ["donor", "status"]
    f = prepare_design_frame(_donor_obs(), variables, [ST], design, "s.tsv", **kwargs)
    assert f["donor"].dtype == expected
    if expected is object:
        assert sorted(set(f["donor"])) == ["713", "714", "720"]


def test_whole_numbers_from_anndata_floats_become_clean_levels():
    obs = _donor_obs()
    obs["donor"] = obs["donor"].astype(float)  # AnnData obs often holds 720.0
    f = prepare_design_frame(
        obs, ["donor", "status"], [ST], "~ donor + status", "s.tsv", variables={"donor": "factor"}
    )
    assert sorted(set(f["donor"])) == ["713", "714", "720"]


def test_categorical_obs_column_is_a_declared_factor():
    obs = _donor_obs()
    obs["donor"] = pd.Categorical(obs["donor"].astype(int))
    f = prepare_design_frame(obs, ["donor", "status"], [ST], "~ donor + status", "s.tsv")
    assert f["donor"].dtype == object


def test_decimals_stay_continuous_without_declaration():
    f = prepare_design_frame(_obs(), ["age", "condition"], [C], "~ age + condition", "s.tsv")
    assert f["age"].dtype == float


def test_declared_numeric_with_text_is_refused_naming_the_sample():
    obs = _obs()
    obs["age"] = obs["age"].astype(str)
    obs.loc["S3", "age"] = "unknown"
    with pytest.raises(DesignError, match=r"row S3, column 'age': `variables` declares 'age' numeric"):
        prepare_design_frame(
            obs, ["age", "condition"], [C], "~ age + condition", "s.tsv", variables={"age": "numeric"}
        )


def test_variables_outside_the_design_are_refused():
    with pytest.raises(DesignError, match="`variables` names 'sex', which is not in the design"):
        prepare_design_frame(_obs(), ["condition"], [C], "~ condition", "s.tsv", variables={"sex": "factor"})


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"variables": {"condition": "numeric"}}, "declares numeric"),
        ({"design": "~ C(age) + condition", "variables": {"age": "numeric"}}, r"writes C\(age\)"),
        (
            {"reference_levels": {"age": "50"}, "variables": {"age": "numeric"}},
            "reference_levels names 'age'",
        ),
        ({"variables": {"age": "continuous"}}, "variables.age"),
    ],
)
def test_config_refuses_conflicting_declarations(extra, needle):
    from bmsc_dge.config import validate_config
    from bmsc_dge.errors import ConfigError

    raw = {
        "counts": "c.tsv",
        "samples": "s.tsv",
        "design": "~ age + condition",
        "contrasts": [{"name": "c", "variable": "condition", "target": "T2DM", "reference": "control"}],
        "alpha": 0.05,
        **extra,
    }
    with pytest.raises(ConfigError, match=needle):
        validate_config(raw, "study.yaml")


def test_describe_design_lists_types_levels_and_moments():
    from bmsc_dge.study import describe_design, design_text

    f = prepare_design_frame(_obs(), ["age", "condition"], [C], "~ age + condition", "s.tsv")
    d = describe_design(f[["age", "condition"]])
    assert d[0]["type"] == "numeric" and d[0]["mean"] == pytest.approx(52.8)
    assert d[1] == {"variable": "condition", "type": "factor", "levels": {"T2DM": 3, "control": 3}}
    assert "condition: factor (T2DM: 3, control: 3)" in design_text(d)
