"""The model config's schema and the three prerequisite gates, each failing with its named reason."""

from __future__ import annotations

import pytest
import yaml

from platform_assets.readmission.logic import prerequisites
from platform_assets.readmission.logic.model_config import (
    DEFAULT_CONFIG_PATH,
    ModelConfigError,
    load_model_config,
    parse_model_config,
)
from tests.readmission.helpers import config_document

TEXT = DEFAULT_CONFIG_PATH.read_text()


def test_repository_config_is_valid_and_matches_the_seed():
    config = load_model_config()
    assert [(n, str(w.start), str(w.end)) for n, w in config.windows.items()] == [
        ("train", "1999-01-01", "2005-12-31"), ("test", "2006-01-01", "2007-12-31"), ("oot", "2008-01-01", "2008-12-31")]
    assert config.algorithms == ["logistic_regression", "random_forest", "xgboost"]
    assert (config.search.candidates, config.search.folds, config.search.scoring) == (20, 5, "roc_auc")
    assert config.min_partitions == 10 and config.fairness.max_equal_opportunity_difference == 0.10
    assert len(config.all_months()) == 120 and config.windows.oot.months()[0] == "2008-01"


@pytest.mark.parametrize("change, field, words", [
    (("end: 2005-12-31", "end: 2006-03-31"), "windows", ["test starts 2006-01-01", "train ends 2006-03-31", "overlap"]),
    (("oot: {start: 2008-01-01, end: 2008-12-31}", "oot: {start: 2007-06-01, end: 2008-12-31}"), "windows", ["oot starts 2007-06-01"]),
    (("oot: {start: 2008-01-01, end: 2008-12-31}", "oot: {start: 2008-12-31, end: 2008-01-01}"), "windows.oot", ["before start"]),
    (("xgboost]", "xgboost, lightgbm]"), "algorithms", ["unknown algorithm", "lightgbm"]),
    (("candidates: 20", "candidates: 0"), "search.candidates = 0", ["greater than 0"]),
    (("folds: 5 ", "folds: 1 "), "search.folds = 1", ["greater than or equal to 2"]),
    (("strategy: halving", "strategy: grid"), "search.strategy = 'grid'", ["'halving' or 'random'"]),
    (("min_partitions: 10", "min_partitions: -3"), "min_partitions = -3", ["greater than or equal to 1"]),
    (("upper: 0.30", "upper: 0.10"), "risk_bands", ["ascending"]),
])
def test_a_broken_config_fails_with_one_message_naming_field_and_value(change, field, words):
    broken = TEXT.replace(*change)
    assert broken != TEXT
    with pytest.raises(ModelConfigError) as error:
        load_model_config(broken)
    message = str(error.value)
    assert field in message and all(w in message for w in words), message
    assert "\n" not in message


def test_several_problems_are_all_named_in_the_one_message():
    document = config_document(candidates=-1)
    document["algorithms"] = ["svm"]
    with pytest.raises(ModelConfigError, match=r"algorithms: unknown algorithm.*'svm'.*search.candidates = -1"):
        parse_model_config(document)


def test_unreadable_and_non_yaml_configs_are_named(tmp_path):
    with pytest.raises(ModelConfigError, match="cannot be read"):
        load_model_config(tmp_path / "absent.yaml")
    with pytest.raises(ModelConfigError, match="not valid YAML"):
        load_model_config("windows: [\n  unclosed: {\n")
    with pytest.raises(ModelConfigError, match="unexpected|Extra inputs"):
        load_model_config(TEXT + "learning_rate: 0.1\n")


def _months(config, drop=()):
    return [m for m in config.all_months() if m not in drop]


def test_all_prerequisites_pass_with_complete_gold_data():
    config = load_model_config()
    gates, loaded = prerequisites.check_prerequisites(DEFAULT_CONFIG_PATH, _months(config), _months(config))
    assert [g.name for g in gates] == ["model_config_valid", "gold_data_present", "enough_partitions", "no_month_set_aside"]
    assert all(g.passed for g in gates) and loaded == config and not gates[3].blocking
    assert prerequisites.failure_summary(gates) is None


def test_invalid_config_fails_first_gate_and_names_it():
    broken = TEXT.replace("xgboost]", "xgboost, catboost]")
    gates, config = prerequisites.check_prerequisites(broken, ["2000-01"], ["2000-01"])
    assert config is None and [g.passed for g in gates] == [False, False, False, True]
    assert "catboost" in gates[0].metadata["reason"]
    assert gates[1].metadata["reason"] == prerequisites.NOT_CHECKED
    summary = prerequisites.failure_summary(gates)
    assert summary.startswith("training skipped; model_config_valid:") and "gold_data_present" not in summary


def test_missing_gold_months_are_named_per_store_and_window():
    config = load_model_config()
    features = _months(config, drop={"2003-04", "2003-05", "2003-06", "2008-12"})
    labels = _months(config, drop={"2007-02"})
    gates, _ = prerequisites.check_prerequisites(TEXT, features, labels)
    gold = gates[1]
    assert not gold.passed and gates[2].passed
    assert gold.metadata["missing"] == {"feature_store.train": "2003-04..2003-06", "feature_store.oot": "2008-12",
                                        "label_store.test": "2007-02"}
    assert "feature_store.train lacks 3 month(s): 2003-04..2003-06" in gold.metadata["reason"]


def test_too_few_partitions_fails_with_counts():
    config = parse_model_config({**yaml.safe_load(TEXT), "min_partitions": 10})
    months = [f"1999-{m:02d}" for m in range(1, 10)]
    gate = prerequisites.partitions_gate(config, months, months + ["1999-10"])
    assert not gate.passed and gate.metadata["partitions"] == 9
    assert gate.metadata["reason"] == "only 9 monthly partition(s) with features and labels; at least 10 needed"
    assert prerequisites.partitions_gate(config, months + ["1999-10"], months + ["1999-10"]).passed


def test_available_months_lists_only_months_with_parquet(tmp_path):
    import polars as pl

    from platform_core.storage import DataLayout, atomic_dir

    layout = DataLayout.at(tmp_path)
    for month in ("2001-02", "2001-01"):
        with atomic_dir(layout.table("readmission", "feature_store", month)) as tmp:
            pl.DataFrame({"x": [1]}).write_parquet(tmp / "part.parquet")
    layout.table("readmission", "feature_store", "2001-03").mkdir(parents=True)  # empty: not available
    (layout.table_area("readmission", "feature_store") / "notes").mkdir()
    assert prerequisites.available_months(layout, "feature_store") == ["2001-01", "2001-02"]
    assert prerequisites.available_months(layout, "label_store") == []


def test_months_set_aside_are_excused_named_and_warned_about():
    """A refused history month is a named gap: training goes ahead while every window keeps data
    and enough partitions remain; otherwise the failure names the months and why."""
    config = parse_model_config({**yaml.safe_load(TEXT), "min_partitions": 10})
    why = {"2003-05": "landing/readmission/2003-05/part-0.parquet: unreadable Parquet file (Invalid data)"}
    months = _months(config, drop=set(why))
    gates, _ = prerequisites.check_prerequisites(TEXT, months, months, why)
    assert [g.passed for g in gates] == [True, True, True, False] and prerequisites.failure_summary(gates) is None
    warning = gates[3]
    assert not warning.blocking and warning.metadata["set_aside"] == [{"month": "2003-05", "reason": why["2003-05"]}]
    assert warning.metadata["reason"] == f"1 month(s) set aside: 2003-05 ({why['2003-05']})"
    assert gates[1].metadata["months_set_aside"] == 1 and "2003-05" in gates[1].metadata["reason"]

    # the same month missing without a reason is still a gap that stops training
    assert not prerequisites.gold_data_gate(config, months, months).passed

    # a whole window set aside: nothing to test on, named
    test_window = {m: "refused" for m in config.windows.test.months()}
    left = _months(config, drop=set(test_window))
    gold = prerequisites.gold_data_gate(config, left, left, test_window)
    assert not gold.passed and "feature_store.test has no month with data left" in gold.metadata["reason"]
    assert "24 month(s) set aside: 2006-01 (refused)" in gold.metadata["reason"]

    # too few partitions left: named with the months set aside
    few = [f"1999-{m:02d}" for m in range(1, 10)]
    gate = prerequisites.partitions_gate(config, few, few, {"1999-10": "refused"})
    assert gate.metadata["reason"] == ("only 9 monthly partition(s) with features and labels; at least 10 needed "
                                       "(1 month(s) set aside: 1999-10 (refused))")


def test_set_aside_months_are_read_from_the_gold_tables(tmp_path):
    import polars as pl

    from platform_assets.readmission.logic.silver import set_aside
    from platform_core.storage import DataLayout, atomic_dir

    layout = DataLayout.at(tmp_path)
    for month in ("2001-01", "2001-02"):
        with atomic_dir(layout.table("readmission", "feature_store", month)) as tmp:
            pl.DataFrame({"x": [1]}).write_parquet(tmp / "part.parquet")
    set_aside(layout, "feature_store", "2001-02", "refused")  # a later delivery of the month was refused
    set_aside(layout, "feature_store", "2001-03", "refused too")
    assert prerequisites.available_months(layout, "feature_store") == ["2001-01"]
    assert prerequisites.set_aside_months(layout, "feature_store") == {"2001-02": "refused", "2001-03": "refused too"}
    assert prerequisites.set_aside_months(layout, "label_store") == {}
