"""The night series: one plan for every night, each scenario in its before-state until its night."""

from __future__ import annotations

import polars as pl

from assets.sources.contracts import CONTRACTS
from assets.sources.ingest import ROW_HASH, ingest_source
from synthetic.generator import ABSENT, generate_deliveries
from synthetic.nights import generate_night, night_records, plan_scenarios


def source_records(tmp_path, persons: int = 1500) -> dict[str, pl.DataFrame]:
    captured: dict[str, pl.DataFrame] = {}

    def keep(records):
        captured.update(records)
        return records

    generate_deliveries(tmp_path / "landing", persons=persons, progress=False, records_hook=keep)
    return captured


def test_plan_is_deterministic_and_covers_every_scenario(tmp_path):
    records = source_records(tmp_path)
    plan = plan_scenarios(records, 7, 3, 0.02)
    assert plan.equals(plan_scenarios(records, 7, 3, 0.02))
    assert set(plan["scenario"]) == {"new_person", "returning_worker", "graduate", "moved_house", "deleted",
                                     "nik_filled_in", "identity_corrected"}
    assert set(plan["night"]) == {2, 3}
    assert plan.select("source", "source_record_id").is_unique().all()


def test_each_scenario_switches_on_its_night(tmp_path):
    records = source_records(tmp_path)
    plan = plan_scenarios(records, 7, 3, 0.02)
    nights = {n: night_records(records, plan, n) for n in (1, 2, 3)}

    def ids(night, source):
        """The records delivered that night (the others are kept, flagged absent, until written)."""
        frame = nights[night][source].filter(~pl.col(ABSENT))
        return set(frame[{"dtsen_individu": "id_individu", "sr_siswa": "id_siswa",
                          "p2mi_penempatan": "id_penempatan", "p2mi_kasus": "id_kasus"}[source]])

    for row in plan.iter_rows(named=True):
        n, source, rid = row["night"], row["source"], row["source_record_id"]
        if row["scenario"] in ("new_person", "returning_worker"):
            assert rid not in ids(n - 1, source) and rid in ids(n, source)
        elif row["scenario"] == "deleted":
            assert rid in ids(n - 1, source) and rid not in ids(n, source)
        elif row["scenario"] == "graduate":
            status = lambda night: nights[night]["sr_siswa"].filter(pl.col("id_siswa") == rid)["status_siswa"][0]  # noqa: E731
            assert status(n - 1) == "AKTIF" and status(n) == "LULUS"
        else:
            dtsen = {k: nights[k]["dtsen_individu"].filter(pl.col("id_individu") == rid) for k in (n - 1, n)}
            original = records["dtsen_individu"].filter(pl.col("id_individu") == rid)
            assert dtsen[n].select("nik", "nama").equals(original.select("nik", "nama")) or row["scenario"] == "moved_house"
            assert not dtsen[n - 1].equals(dtsen[n])


def test_a_record_that_nothing_touches_is_delivered_byte_for_byte_again(tmp_path):
    # As from a real extract: only the scenarios' rows differ from one night's delivery to the next.
    landing = tmp_path / "landing"
    info = generate_night(landing, 1, persons=1500, nights=2, change_share=0.02)
    first = {s: ingest_source(landing, c).accepted for s, c in CONTRACTS.items()}
    info = generate_night(landing, 2, persons=1500, nights=2, change_share=0.02)
    second = {s: ingest_source(landing, c).accepted for s, c in CONTRACTS.items()}
    touched = set(info["scenarios"]["record_key"].to_list()) | set(info["scenarios"]["other_key"].drop_nulls().to_list())
    for source, contract in CONTRACTS.items():
        key = pl.lit(source + ":") + pl.col(contract.primary_key)
        differing = second[source].join(first[source], on=list(ROW_HASH), how="anti").select(key.alias("k"))["k"]
        assert differing.len() > 0 or source == "p2mi_kasus"
        assert set(differing.to_list()) <= touched, source


def test_a_night_is_written_under_its_own_date(tmp_path):
    info = generate_night(tmp_path / "landing", 2, persons=300, nights=2)
    assert info["delivery_date"] == "2026-11-28"
    assert (tmp_path / "landing" / "dtsen_individu" / "2026-11-28" / "_SUCCESS").exists()
    assert info["scenarios"]["record_key"].str.contains(":").all()
