"""Staging of the changed rows only (assets/standardise/delta.py), on hand-made DTSEN deliveries in
a real DuckDB store: the rows it keeps are the rows a full staging gives, including the ones whose
values depend on the delivery date (two-digit years, birth dates after the delivery)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from assets.sources.contracts import CONTRACTS
from assets.sources.ingest import DELIVERY_DATE, ROW_HASH, with_row_hashes
from assets.sources.readers import FILE, ROW_NUMBER
from assets.standardise.assets import staged_rows
from assets.standardise.delta import (
    STAGED_GEN, StagingPlan, next_generation, plan_staging, stage_changed_rows, staged_generations, staged_run_id,
    state_table, write_state,
)
from assets.warehouse import Warehouse

SOURCE = "dtsen_individu"
DTSEN = CONTRACTS[SOURCE]


def stage(raw: pl.DataFrame) -> pl.DataFrame:
    return staged_rows(SOURCE, raw)  # as the staging asset stages


def delivery(rows: list[tuple[str, str, str]], delivered: date) -> pl.DataFrame:
    """Raw DTSEN rows (id, name, birth date as typed) as ingest stores them."""
    columns = list(DTSEN.required + DTSEN.optional)
    frame = pl.DataFrame(
        [{**dict.fromkeys(columns), "id_individu": i, "nama": name, "tanggal_lahir": born, "desil": "2",
          "kode_desa": "3201012001"} for i, name, born in rows],
        schema={c: pl.String for c in columns},
    ).with_columns(
        pl.lit(f"{SOURCE}/{delivered}/part1.csv").alias(FILE),
        pl.int_range(2, len(rows) + 2, dtype=pl.Int64).alias(ROW_NUMBER),
        pl.lit(delivered).alias(DELIVERY_DATE),
    )
    return with_row_hashes(frame, columns)


def stage_night(warehouse: Warehouse, raw: pl.DataFrame, *, full: bool) -> tuple[int, str]:
    """Tonight's raw rows staged as the asset does: everything, or what the plan allows."""
    warehouse.write({f"raw.{SOURCE}": raw})
    with warehouse.transaction() as con:
        plan = plan_staging(con, SOURCE, full_requested=full)
        generation = next_generation(con)
    if plan.full:
        rows = warehouse.write_chunks(f"staging.{SOURCE}", [stage(raw).with_columns(
            pl.lit(generation, pl.Int64).alias(STAGED_GEN))])
        restaged = rows
    else:
        with warehouse.transaction() as con:
            rows, restaged = stage_changed_rows(con, SOURCE, plan, stage, generation)
    with warehouse.transaction() as con:
        write_state(con, SOURCE, plan, rows, restaged, f"run-{raw[DELIVERY_DATE][0]}", generation)
    return restaged, plan.reason


@pytest.fixture
def stores(tmp_path):
    return Warehouse(path=str(tmp_path / "delta.duckdb")), Warehouse(path=str(tmp_path / "full.duckdb"))


def test_only_new_and_changed_rows_are_staged_and_the_table_equals_a_full_staging(stores):
    delta, full = stores
    night1 = [("1", "SITI AMINAH", "1980-05-17"), ("2", "BUDI SANTOSO", "17-08-1975"), ("3", "SLAMET", "1964")]
    night2 = [("1", "SITI AMINAH", "1980-05-17"), ("2", "BUDI SANTOSA", "17-08-1975"), ("4", "NUR AINI", "2001-02-03")]
    stage_night(delta, delivery(night1, date(2026, 11, 27)), full=False)
    restaged, reason = stage_night(delta, delivery(night2, date(2026, 11, 28)), full=False)
    stage_night(full, delivery(night2, date(2026, 11, 28)), full=True)
    assert (restaged, reason) == (2, "unchanged rows kept")  # the changed name and the new person
    kept, everything = delta.read(f"staging.{SOURCE}"), full.read(f"staging.{SOURCE}")
    assert kept.drop(STAGED_GEN).equals(everything.drop(STAGED_GEN))
    # Each row carries the generation that staged it: the kept row night 1's, the others night 2's;
    # the state says which generation wrote last and which staged everything.
    generations = dict(zip(kept["id_individu"], kept[STAGED_GEN]))
    assert generations["1"] < generations["2"] == generations["4"]
    with delta.transaction() as con:
        assert staged_generations(con, SOURCE) == (generations["2"], generations["1"])
    # the kept row carries tonight's delivery date, not last night's; its file and row number
    # are the raw table's alone, where its hashes find tonight's
    assert kept["delivery_date"].to_list() == [date(2026, 11, 28)] * 3
    assert not {FILE, ROW_NUMBER, DELIVERY_DATE} & set(kept.columns)
    place = kept.join(delta.read(f"raw.{SOURCE}"), on=list(ROW_HASH), how="left")
    assert sorted(zip(place["id_individu"], place[FILE], place[ROW_NUMBER])) == [
        ("1", f"{SOURCE}/2026-11-28/part1.csv", 2), ("2", f"{SOURCE}/2026-11-28/part1.csv", 3),
        ("4", f"{SOURCE}/2026-11-28/part1.csv", 4)]
    # what staging/person_records compares: the run that last wrote the staged rows
    with delta.transaction() as con:
        assert staged_run_id(con, SOURCE) == "run-2026-11-28"


def test_a_plan_that_keeps_the_staged_rows_keeps_the_run_that_wrote_them(stores):
    delta, _ = stores
    stage_night(delta, delivery([("1", "SITI AMINAH", "1980-05-17")], date(2026, 11, 27)), full=False)
    kept = StagingPlan(False, "the delivery staged before: kept", date(2026, 11, 27), "", unchanged=True)
    with delta.transaction() as con:
        assert staged_run_id(con, SOURCE) == "run-2026-11-27"
        write_state(con, SOURCE, kept, 1, 0, "tonight", None)
        assert staged_run_id(con, SOURCE) == "run-2026-11-27"
        con.execute(f"ALTER TABLE {state_table(SOURCE)} DROP COLUMN staged_run_id")  # a state from before
        assert staged_run_id(con, SOURCE) is None
        write_state(con, SOURCE, kept, 1, 0, "tonight", None)  # unknown: taken as written tonight
        assert staged_run_id(con, SOURCE) == "tonight"


@pytest.mark.parametrize(
    ("born", "why"),
    [
        # 28-11-26: 2026-11-28 is after the first delivery (27 Nov): 1926 then; 2026 on the 28th
        ("28-11-26", "two-digit year"),
        # 2026-11-28 as a birth date is after the first delivery (an issue), not after the second
        ("2026-11-28", "birth date after the delivery"),
    ],
)
def test_a_row_whose_values_move_with_the_delivery_date_is_staged_again(stores, born, why):
    delta, full = stores
    rows = [("1", "SITI AMINAH", "1980-05-17"), ("2", "BAYI", born)]
    stage_night(delta, delivery(rows, date(2026, 11, 27)), full=False)
    first = delta.read(f"staging.{SOURCE}").filter(pl.col("id_individu") == "2").row(0, named=True)
    restaged, _ = stage_night(delta, delivery(rows, date(2026, 11, 28)), full=False)
    stage_night(full, delivery(rows, date(2026, 11, 28)), full=True)
    assert restaged == 1, why  # the baby's row only: nothing else changed
    kept, everything = delta.read(f"staging.{SOURCE}"), full.read(f"staging.{SOURCE}")
    assert kept.drop(STAGED_GEN).equals(everything.drop(STAGED_GEN))
    # the restaged row carries tonight's staging generation, the kept one night 1's
    generations = dict(zip(kept["id_individu"], kept[STAGED_GEN]))
    assert generations["1"] < generations["2"]
    second = kept.filter(pl.col("id_individu") == "2").row(0, named=True)
    assert second["birth_date"] == date(2026, 11, 28) and first["birth_date"] != second["birth_date"]


@pytest.mark.parametrize(
    ("tonight", "full_requested", "reason"),
    [
        (date(2027, 1, 2), False, "delivery date 2027-01-02 against 2026-12-31"),  # a year given alone
        (date(2026, 12, 30), False, "delivery date 2026-12-30 against 2026-12-31"),  # an older delivery
        (date(2027, 1, 2), True, "the run asks for a full rebuild"),
    ],
)
def test_everything_is_staged_again_when_the_date_cannot_be_trusted_or_the_run_asks(
        stores, tonight, full_requested, reason):
    delta, _ = stores
    rows = [("1", "SITI AMINAH", "1980-05-17"), ("2", "SLAMET", "1964")]
    stage_night(delta, delivery(rows, date(2026, 12, 31)), full=False)
    restaged, said = stage_night(delta, delivery(rows, tonight), full=full_requested)
    assert (restaged, said) == (2, reason)


def test_changed_staging_code_stages_everything_again(stores):
    delta, _ = stores
    rows = [("1", "SITI AMINAH", "1980-05-17")]
    stage_night(delta, delivery(rows, date(2026, 11, 27)), full=False)
    with delta.transaction() as con:
        con.execute(f"UPDATE {state_table(SOURCE)} SET fingerprint = 'older code'")
    assert stage_night(delta, delivery(rows, date(2026, 11, 28)), full=False) == (
        1, "the staging code or its reference data changed")
