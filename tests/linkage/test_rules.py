"""The rules file is read once per process: a run's steps all see the version it started with."""

from __future__ import annotations

import re

import pytest
import yaml

from assets.linkage.rules import MODEL_FILE, columns_of_levels, load_rules


def test_an_edit_during_a_run_waits_for_the_next_run(tmp_path):
    rules_file = tmp_path / "model.yaml"
    text = MODEL_FILE.read_text()
    rules_file.write_text(text)
    first = load_rules(rules_file)
    # someone raises the cluster threshold while the night runs
    rules_file.write_text(text.replace("cluster_match_probability: 0.95", "cluster_match_probability: 0.99"))
    again = load_rules(rules_file)
    assert again.cluster_threshold == first.cluster_threshold == 0.95
    assert again.version_hash == first.version_hash
    # another file (another process's view, here another path) reads what is there now
    other = tmp_path / "other.yaml"
    other.write_text(rules_file.read_text())
    assert load_rules(other).cluster_threshold == 0.99


def _columns_of_rule(rule: str) -> set[str]:
    return set(re.findall(r"\b[lr]\.([a-z_]+)\b", rule))


def test_every_trained_comparison_has_an_em_session_that_trains_it():
    # Splink leaves a comparison that reads a column of an EM session's blocking rule out of that
    # session. A level that read name_first_key once took the NIK out of its only session: every
    # NIK m fell back to Splink's defaults, and "NIK equal" weighed 13.4 instead of 21.
    rules = load_rules()
    sessions = [_columns_of_rule(rule) for rule in rules.training["em_blocking_rules"]]
    for comparison in rules.raw["comparisons"]:
        if all(level.get("is_null_level") or level.get("fix_m_probability")
               for level in comparison["comparison_levels"]):
            continue  # nothing for EM to learn
        reads = columns_of_levels(comparison)
        assert any(not (reads & session) for session in sessions), comparison["output_column_name"]


def test_the_column_readers_see_what_splink_sees():
    assert _columns_of_rule("l.name_first_key = r.name_first_key AND l.birth_date = r.birth_date") == {
        "name_first_key", "birth_date"}
    assert columns_of_levels({"comparison_levels": [
        {"sql_condition": "split_part(name_key_l, ' ', 1) <> name_first_key_r AND nik_l = nik_r"}]}) == {
        "name_key", "name_first_key", "nik"}


def _with_condition(tmp_path, condition: str):
    rules = yaml.safe_load(MODEL_FILE.read_text())
    rules["clustering"]["cannot_link_conditions"] = [{"sql_condition": condition, "below_match_probability": 0.5}]
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(rules))
    return load_rules(path)


def test_a_cannot_link_condition_reads_only_what_the_scored_pairs_carry(tmp_path):
    shipped = load_rules().cannot_link_conditions
    assert shipped and all(0 < below <= 1 for _, below in shipped)
    assert _with_condition(tmp_path, "mw_nik <= -5 AND nik_l <> nik_r").cannot_link_conditions == [
        ("mw_nik <= -5 AND nik_l <> nik_r", 0.5)]
    # kode_desa is a delivery's column, not one the comparisons read; mw_age is no comparison
    for condition, named in [("mw_nik <= -5 AND kode_desa_l <> kode_desa_r", "kode_desa_l"),
                             ("mw_age < 0", "age")]:
        with pytest.raises(ValueError, match=rf"cannot_link_conditions\[0\].*reads .*{named}"):
            _with_condition(tmp_path / named, condition).cannot_link_conditions


def test_a_cannot_link_condition_that_is_not_sql_is_refused_with_its_place(tmp_path):
    with pytest.raises(ValueError, match=r"model.yaml, clustering.cannot_link_conditions\[0\].*not valid DuckDB SQL"):
        _with_condition(tmp_path, "mw_nik <= AND (").cannot_link_conditions
