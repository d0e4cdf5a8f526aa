"""The rules file is read once per process: a run's steps all see the version it started with."""

from __future__ import annotations

from assets.linkage.rules import MODEL_FILE, load_rules


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
