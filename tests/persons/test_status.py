"""Status derivation of contract section 3 on hand-made persons."""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.persons.status import combine_status

D = dt.date


def placements(rows):
    return pl.DataFrame(rows, schema={
        "person_id": pl.String, "source_record_id": pl.String, "placement_status": pl.String,
        "departure_date": pl.Date, "updated_date": pl.Date, "destination_country": pl.String,
        "job_title": pl.String,
    }, orient="row")


def cases(rows):
    return pl.DataFrame(rows, schema={
        "person_id": pl.String, "case_type": pl.String, "trafficking_indicated": pl.Boolean,
        "arrival_date": pl.Date, "referred_to_kemensos": pl.Boolean,
    }, orient="row")


def dtsen(rows):
    return pl.DataFrame(rows, schema={
        "person_id": pl.String, "period": pl.String, "delivery_date": pl.Date, "desil": pl.Int32,
        "receives_pkh": pl.Boolean, "receives_sembako": pl.Boolean, "receives_pbi_jk": pl.Boolean,
    }, orient="row")


def students(rows):
    return pl.DataFrame(rows, schema={
        "person_id": pl.String, "source_record_id": pl.String, "student_status": pl.String,
        "enrolment_date": pl.Date, "school_level": pl.String, "grade": pl.Int32,
        "migrant_class": pl.Boolean, "migrant_class_destination": pl.String,
    }, orient="row")


def status(p=(), c=(), d=(), s=()):
    people = pl.DataFrame({"person_id": ["W", "R", "V", "F", "S", "N"]})
    out = combine_status(people, placements(list(p)), cases(list(c)), dtsen(list(d)), students(list(s)))
    return {row["person_id"]: row for row in out.iter_rows(named=True)}


def test_migrant_phase_from_latest_placement_that_is_not_batal():
    out = status(p=[
        # W: worked in Taiwan, came back, now registered again for Hong Kong -> before
        ("W", "1", "PULANG_SELESAI_KONTRAK", D(2021, 1, 5), None, "TAIWAN", "CAREGIVER"),
        ("W", "2", "TERDAFTAR", None, D(2026, 10, 1), "HONG KONG", "HOUSE MAID"),
        # R: working in Malaysia; a later cancelled registration does not count -> during
        ("R", "3", "BEKERJA", D(2025, 3, 1), None, "MALAYSIA", "PLANTATION WORKER"),
        ("R", "4", "BATAL", None, D(2026, 6, 1), "JEPANG", "WORKER"),
        # F: came back troubled -> after, troubled
        ("F", "5", "PULANG_BERMASALAH", D(2024, 2, 1), D(2025, 1, 1), "ARAB SAUDI", "HOUSE MAID"),
    ])
    assert (out["W"]["migrant_phase"], out["W"]["current_destination_country"]) == ("before", "HONG KONG")
    assert (out["R"]["migrant_phase"], out["R"]["current_destination_country"]) == ("during", "MALAYSIA")
    assert (out["F"]["migrant_phase"], out["F"]["current_destination_country"]) == ("after", None)
    assert out["F"]["troubled_worker"] and not out["W"]["troubled_worker"]
    assert out["N"]["migrant_phase"] == "none" and out["N"]["placements"] == 0
    assert out["R"]["placements"] == 2


def test_case_with_return_date_makes_after_and_trafficking_flags():
    out = status(
        p=[("R", "3", "BEKERJA", D(2025, 3, 1), None, "MALAYSIA", "WORKER")],
        c=[
            ("R", "DEPORTASI", False, D(2026, 2, 1), True),      # returned after departure -> after
            ("V", "PENIPUAN", True, D(2026, 1, 28), True),       # no placement at all (Cambodia)
            ("S", "TPPO", None, None, False),                    # TPPO case, not yet returned
        ],
    )
    assert out["R"]["migrant_phase"] == "after" and out["R"]["troubled_worker"]
    assert not out["R"]["trafficking_victim"]
    assert out["V"]["migrant_phase"] == "after" and out["V"]["trafficking_victim"]
    assert out["S"]["migrant_phase"] == "none" and out["S"]["trafficking_victim"] and out["S"]["troubled_worker"]


def test_bansos_from_newest_dtsen_desil():
    out = status(d=[
        ("F", "2026-Q2", D(2026, 7, 1), 6, False, False, False),
        ("F", "2026-Q3", D(2026, 11, 1), 3, True, False, True),   # newest period: desil 3 -> eligible
        ("W", "2026-Q3", D(2026, 11, 1), 5, False, False, False),
        ("N", "2026-Q3", D(2026, 11, 1), None, False, False, False),
    ])
    assert (out["F"]["dtsen_desil"], out["F"]["bansos_eligible"]) == (3, True)
    assert (out["W"]["dtsen_desil"], out["W"]["bansos_eligible"]) == (5, False)
    assert out["N"]["bansos_eligible"] is False
    assert out["R"]["dtsen_desil"] is None and out["R"]["bansos_eligible"] is False


def test_sekolah_rakyat_enrolment_level_and_migrant_class():
    out = status(s=[
        ("S", "1", "LULUS", D(2022, 7, 14), "SMP", 9, False, None),
        ("S", "2", "AKTIF", D(2025, 7, 14), "SMA", 10, True, "JEPANG"),
        ("F", "3", "KELUAR", D(2025, 7, 14), "SMA", 10, True, "KOREA"),
    ])
    assert (out["S"]["sr_enrolled"], out["S"]["sr_level"], out["S"]["sr_migrant_class"]) == (True, "SMA", True)
    assert out["S"]["sr_migrant_class_destination"] == "JEPANG"
    assert (out["F"]["sr_enrolled"], out["F"]["sr_migrant_class"]) == (False, False)
    assert out["N"]["sr_enrolled"] is False
