"""Which records a night scores again: new, changed and deleted records against last night's
hashes (assets/linkage/incremental.py, `linkage.record_changes`)."""

import polars as pl

from assets.linkage.incremental import classify_records

SCHEMA = {"record_key": pl.String, "record_hash": pl.UInt64}


def _hashes(rows: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame({"record_key": list(rows), "record_hash": list(rows.values())}, schema=SCHEMA)


def test_records_are_new_changed_deleted_or_unchanged():
    tonight = _hashes({"p:3": 30, "p:1": 10, "p:2": 99, "p:5": 50})
    last_night = _hashes({"p:1": 10, "p:2": 20, "p:4": 40, "p:0": 1})
    delta = classify_records(tonight, last_night)
    assert sorted(delta.changes.rows()) == [("p:0", "deleted"), ("p:2", "changed"), ("p:3", "new"),
                                            ("p:4", "deleted"), ("p:5", "new")]
    assert delta.unchanged == 1
    assert sorted(delta.touched.to_list()) == ["p:2", "p:3", "p:5"]
    assert [delta.count(c) for c in ("new", "changed", "deleted")] == [2, 1, 2]


def test_a_first_night_has_every_record_new():
    tonight = _hashes({"p:2": 2, "p:1": 1})
    delta = classify_records(tonight, tonight.clear())
    assert sorted(delta.changes.rows()) == [("p:1", "new"), ("p:2", "new")]
    assert delta.unchanged == 0
    empty = classify_records(tonight.clear(), tonight.clear())
    assert empty.changes.is_empty() and empty.changes.schema == {"record_key": pl.String, "change": pl.String}
