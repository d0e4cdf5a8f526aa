"""The identity part of a person (survivorship) on hand-made records: DTSEN first, then the most
frequent value within a source, a default birth date weaker than a real one, and a person of one
record taking that record's values as they are."""

from __future__ import annotations

import polars as pl

from assets.persons.golden import golden_records

SCHEMA = {
    "person_id": pl.String, "source": pl.String, "nik": pl.String, "sex": pl.String,
    "regency_code": pl.String, "household_key": pl.String, "birth_year": pl.Int32,
    "birth_date_is_default": pl.Boolean,
}


def golden(rows) -> dict[str, dict]:
    table = golden_records(pl.DataFrame(rows, schema=SCHEMA, orient="row"))
    assert table["person_id"].is_unique().all()
    return {row["person_id"]: row for row in table.iter_rows(named=True)}


def test_dtsen_wins_then_the_most_frequent_value_then_the_smallest():
    out = golden([
        # A: the placement's NIK twice, DTSEN's once: DTSEN is checked against Dukcapil and wins.
        ("A", "p2mi_penempatan", "3201010101900001", "L", "3201", "KK1", 1990, False),
        ("A", "p2mi_penempatan", "3201010101900001", "L", "3201", None, 1990, False),
        ("A", "dtsen_individu", "3201010101900009", "L", "3202", "KK2", 1990, False),
        # B: two placements against one; a tie between two cases goes to the smaller value.
        ("B", "p2mi_penempatan", "3301010101800002", "P", "3301", None, 1980, False),
        ("B", "p2mi_penempatan", "3301010101800002", "P", "3301", None, 1980, False),
        ("B", "p2mi_penempatan", "3301010101800003", "P", "3302", None, 1980, False),
        ("C", "p2mi_kasus", "3401010101700005", None, "3402", None, None, False),
        ("C", "p2mi_kasus", "3401010101700004", None, "3401", None, None, False),
    ])
    a, b, c = out["A"], out["B"], out["C"]
    assert (a["nik"], a["regency_code"], a["household_key"]) == ("3201010101900009", "3202", "KK2")
    assert (a["records"], a["in_dtsen"], a["in_p2mi_placements"], a["in_p2mi_cases"]) == (3, True, True, False)
    assert a["sources"] == "dtsen_individu,p2mi_penempatan"
    assert (b["nik"], b["regency_code"], b["records"], b["sources"]) == ("3301010101800002", "3301", 3, "p2mi_penempatan")
    assert (c["nik"], c["regency_code"], c["sex"], c["birth_year"]) == ("3401010101700004", "3401", None, None)


def test_a_default_birth_date_gives_way_to_a_real_one_of_any_source():
    out = golden([
        ("A", "dtsen_individu", None, "P", None, None, 1985, True),   # 1 July default
        ("A", "p2mi_kasus", None, "P", None, None, 1986, False),
        ("B", "dtsen_individu", None, "L", None, None, 1970, True),   # only defaults: still a year
        ("B", "sr_siswa", None, "L", None, None, 1971, True),
    ])
    assert out["A"]["birth_year"] == 1986
    assert out["B"]["birth_year"] == 1970


def test_a_person_of_one_record_takes_its_values_nulls_included():
    out = golden([
        ("S", "sr_siswa", None, "P", "3171", "KK9", 2010, True),
        ("T", "p2mi_kasus", "3501010101950001", None, None, None, None, False),
        ("M", "dtsen_individu", "3601010101600001", "L", "3601", None, 1960, False),
        ("M", "sr_siswa", None, None, None, "KK7", None, False),
    ])
    s, t, m = out["S"], out["T"], out["M"]
    assert (s["nik"], s["sex"], s["regency_code"], s["household_key"], s["birth_year"]) == (None, "P", "3171", "KK9", 2010)
    assert (s["records"], s["in_sekolah_rakyat"], s["in_dtsen"], s["sources"]) == (1, True, False, "sr_siswa")
    assert (t["nik"], t["sex"], t["birth_year"], t["sources"]) == ("3501010101950001", None, None, "p2mi_kasus")
    # The household key comes from the only record that has one, whatever its source.
    assert (m["household_key"], m["nik"], m["records"]) == ("KK7", "3601010101600001", 2)


def test_record_keys_sort_as_source_then_source_record_id():
    """persons.person_records is sorted by record key "<source>:<id>" for its (source, id) order:
    that holds while no source name begins another."""
    from assets.sources.contracts import CONTRACTS

    names = list(CONTRACTS)
    assert not [(a, b) for a in names for b in names if a != b and b.startswith(a)]
    keys = pl.DataFrame({"source": ["sr_siswa", "p2mi_penempatan", "p2mi_kasus", "p2mi_kasus", "dtsen_individu"],
                         "source_record_id": ["1", "0", "B", "A-1", "9"]})
    by_key = keys.with_columns((pl.col("source") + ":" + pl.col("source_record_id")).alias("k")).sort("k").drop("k")
    assert by_key.equals(keys.sort("source", "source_record_id"))
