"""A series of nights from one population: `generate_night(landing, night, ...)` writes night
`night` (1, 2, ...) as a delivery dated `first_date + night - 1` days, so that each night is a
full snapshot that differs from the one before by what happened in between:

- new persons (all their records appear),
- returning workers (a new placement row for a worker already placed before),
- graduating students (`AKTIF` becomes `LULUS`: a change linkage does not look at),
- records that move house (a new village code: a change linkage does look at),
- deleted records (no longer delivered),
- a NIK filled in that merges two persons (a record without NIK and with a wrong name gets its NIK
  and its name, and with them the person it belongs to),
- a correction that splits one (a record that carried another person's identity gets its own back).

Every scenario happens at one night from 2 on (batches round-robin), and is listed with its record
keys in the returned `scenarios` frame. Same arguments, same bytes."""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from synthetic.generator import ABSENT, PRIMARY_KEYS, generate_deliveries
from synthetic.population import stage_rng

# The columns a record that carries another person's identity copies from its owner: the whole
# registration, the relation to the family's head too (a row of the owner's family in another
# relation is another person: assets/linkage/families.py).
IDENTITY = ["nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "no_kk", "id_keluarga", "hubungan_keluarga"]


def _keys(source: str, ids) -> list[str]:
    return [f"{source}:{i}" for i in ids]


def plan_scenarios(records: dict[str, pl.DataFrame], seed: int, nights: int, change_share: float) -> pl.DataFrame:
    """scenario, night (from which it holds), source, source_record_id, other (a second record id
    for merges and splits). Drawn once from the whole population, so that every night agrees."""
    rng = stage_rng(seed, "nights.scenarios")
    dtsen = records["dtsen_individu"]
    n = dtsen.height
    batches = list(range(2, nights + 1)) or [2]
    count = lambda share, low: max(low, int(round(n * change_share * share)))  # noqa: E731
    rows: list[dict] = []
    used_pids: set[int] = set()

    def take(pids: np.ndarray, k: int) -> list[int]:
        # Sorted first: group_by order is not deterministic, the plan must be.
        free = [int(p) for p in rng.permutation(np.sort(np.asarray(pids))) if int(p) not in used_pids]
        chosen = free[:k]
        used_pids.update(chosen)
        return chosen

    sources_of = pl.concat([records[s].select("_pid", pl.lit(s).alias("source")) for s in records])
    per_pid = sources_of.group_by("_pid").agg(pl.len().alias("n"), pl.col("source").n_unique().alias("k")).sort("_pid")
    dtsen_once = dtsen.group_by("_pid").len().filter(pl.col("len") == 1)["_pid"]
    single = per_pid.filter((pl.col("n") == 1) & pl.col("_pid").is_in(dtsen_once.implode()))["_pid"].to_numpy()
    linked = per_pid.filter((pl.col("k") >= 2) & pl.col("_pid").is_in(dtsen_once.implode()))["_pid"].to_numpy()

    def add(scenario: str, index: int, source: str, record_id: str, other: str | None = None) -> None:
        rows.append(dict(scenario=scenario, night=batches[index % len(batches)], source=source,
                         source_record_id=record_id, other=other))

    # New persons: every record of theirs, in every source.
    for i, pid in enumerate(take(per_pid["_pid"].to_numpy(), count(0.3, len(batches)))):
        for source, frame in records.items():
            for record_id in frame.filter(pl.col("_pid") == pid)[PRIMARY_KEYS[source]].to_list():
                add("new_person", i, source, record_id)
    # Returning workers: the newest placement of a worker placed more than once.
    placements = records["p2mi_penempatan"]
    repeat = placements.group_by("_pid").len().filter(pl.col("len") >= 2)["_pid"].to_numpy()
    for i, pid in enumerate(take(repeat, count(0.1, len(batches)))):
        newest = placements.filter(pl.col("_pid") == pid).sort("_level", "id_penempatan").row(0, named=True)
        add("returning_worker", i, "p2mi_penempatan", newest["id_penempatan"])
    # Graduating students.
    active = records["sr_siswa"].filter(pl.col("status_siswa") == "AKTIF")
    for i, pid in enumerate(take(active["_pid"].unique().sort().to_numpy(), count(0.1, len(batches)))):
        add("graduate", i, "sr_siswa", active.filter(pl.col("_pid") == pid)["id_siswa"][0])
    # Moved house (linkage-relevant change) and deleted records: DTSEN records.
    for i, pid in enumerate(take(dtsen["_pid"].unique().sort().to_numpy(), count(0.2, len(batches)))):
        add("moved_house", i, "dtsen_individu", dtsen.filter(pl.col("_pid") == pid)["id_individu"][0])
    for i, pid in enumerate(take(dtsen["_pid"].unique().sort().to_numpy(), count(0.2, len(batches)))):
        add("deleted", i, "dtsen_individu", dtsen.filter(pl.col("_pid") == pid)["id_individu"][0])
    # A NIK filled in: the DTSEN record of a person who is also in another source.
    for i, pid in enumerate(take(linked, count(0.02, len(batches)))):
        add("nik_filled_in", i, "dtsen_individu", dtsen.filter(pl.col("_pid") == pid)["id_individu"][0])
    # A correction: a one-record person whose record carried the identity of a linked person.
    wrong = take(single, count(0.02, len(batches)))
    owners = take(linked, len(wrong))
    for i, (pid, owner) in enumerate(zip(wrong, owners)):
        add("identity_corrected", i, "dtsen_individu", dtsen.filter(pl.col("_pid") == pid)["id_individu"][0],
            other=dtsen.filter(pl.col("_pid") == owner)["id_individu"][0])
    return pl.DataFrame(rows, schema={"scenario": pl.String, "night": pl.Int64, "source": pl.String,
                                      "source_record_id": pl.String, "other": pl.String})


def _pick(record_id: str, n: int) -> int:
    """The same choice for a record whichever night it is drawn on."""
    return zlib.crc32(record_id.encode()) % n


def night_records(records: dict[str, pl.DataFrame], scenarios: pl.DataFrame, night: int) -> dict[str, pl.DataFrame]:
    """The sources as delivered on `night`: a scenario whose night has not come is in its before-state."""
    out = dict(records)

    def ids(scenario: str, source: str, pending: bool) -> list[str]:
        hit = scenarios.filter((pl.col("scenario") == scenario) & (pl.col("source") == source))
        hit = hit.filter(pl.col("night") > night) if pending else hit.filter(pl.col("night") <= night)
        return hit["source_record_id"].to_list()

    # Rows not delivered tonight stay, flagged `_absent`, until the files are written: the layout
    # noise is drawn row by row in order, so a row that is there every night is written the
    # same way every night (a real extract repeats an unchanged record byte for byte).
    for source, frame in out.items():
        pk = pl.col(PRIMARY_KEYS[source])
        absent = ids("new_person", source, True) + ids("returning_worker", source, True) + ids("deleted", source, False)
        out[source] = frame.with_columns(pk.is_in(absent).alias(ABSENT))
    sr = out["sr_siswa"]
    out["sr_siswa"] = sr.with_columns(
        pl.when(pl.col("id_siswa").is_in(ids("graduate", "sr_siswa", False))).then(pl.lit("LULUS"))
        .otherwise(pl.col("status_siswa")).alias("status_siswa"))

    dtsen = out["dtsen_individu"]
    moved = ids("moved_house", "dtsen_individu", False)
    if moved:
        villages = records["dtsen_individu"]["kode_desa"].drop_nulls().unique().sort()
        far = {rid: villages[_pick(rid, villages.len())] for rid in moved}
        dtsen = dtsen.with_columns(
            pl.col("id_individu").replace_strict(far, default=pl.col("kode_desa")).alias("kode_desa"),
            pl.col("id_individu").replace_strict(
                {rid: v for rid, v in far.items()}, default=pl.col("_desa_dotted")).alias("_desa_dotted"),
        )
    # NIK not yet filled in: the record had no NIK and a name that is not the person's (the clerk
    # completing it fills in the NIK and corrects the name).
    blank = ids("nik_filled_in", "dtsen_individu", True)
    if blank:
        names = records["dtsen_individu"]["nama"].drop_nulls().unique().sort()
        misspelt = {rid: names[_pick(rid, names.len())] for rid in blank}
        dtsen = dtsen.with_columns(
            pl.col("id_individu").replace_strict(misspelt, default=pl.col("nama")).alias("nama"),
            pl.when(pl.col("id_individu").is_in(blank)).then(None).otherwise(pl.col("nik")).alias("nik"),
        )
    # Identity not yet corrected: the record carries its owner's identity columns.
    wrong = scenarios.filter((pl.col("scenario") == "identity_corrected") & (pl.col("night") > night))
    if wrong.height:
        donors = dtsen.filter(pl.col("id_individu").is_in(wrong["other"].implode()) & ~pl.col(ABSENT)).select(
            pl.col("id_individu").alias("other"), *IDENTITY, "_desa_dotted")
        patch = wrong.select(pl.col("source_record_id").alias("id_individu"), "other").join(donors, on="other")
        dtsen = dtsen.update(patch.drop("other"), on="id_individu")
    out["dtsen_individu"] = dtsen
    return out


def generate_night(
    landing_dir: Path,
    night: int,
    persons: int = 3000,
    seed: int = 20261128,
    first_date: date = date(2026, 11, 27),
    nights: int = 3,
    change_share: float = 0.01,
    progress: bool = False,
) -> dict:
    """Writes night `night` of `nights` under `<landing>/<source>/<first_date + night - 1>/`.
    Returns the generator's summary plus `scenarios` (what differs from night to night)."""
    if not 1 <= night <= nights:
        raise ValueError(f"night must be between 1 and {nights}")
    plan: dict[str, pl.DataFrame] = {}

    def hook(records: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        plan["scenarios"] = plan_scenarios(records, seed, nights, change_share)
        return night_records(records, plan["scenarios"], night)

    summary = generate_deliveries(
        landing_dir, persons=persons, seed=seed, delivery_date=first_date, progress=progress,
        folder_date=first_date + timedelta(days=night - 1), records_hook=hook,
    )
    scenarios = plan["scenarios"].with_columns(
        (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.when(pl.col("other").is_not_null()).then(pl.lit("dtsen_individu:") + pl.col("other")).alias("other_key"),
    )
    return {**summary, "night": night, "scenarios": scenarios}
