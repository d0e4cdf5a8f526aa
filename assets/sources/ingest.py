"""Ingest of one source: pick the newest complete delivery whose files can all be read, read every
part, and split its rows into accepted and quarantined. The file ledger says, per file, how many
rows were read, accepted and quarantined, so that the counts can be reconciled."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from assets.sources.contracts import SourceContract
from assets.sources.deliveries import Delivery, delivery_digest, delivery_stamp, scan_source, stamp_label
from assets.sources.quarantine import REASON, ROW_CHECKS, RULE, row_checks, row_content_hash, split_rows
from assets.sources.readers import FILE, ROW_NUMBER, DeliveryFileError, read_delivery_file

DELIVERY_DATE = "_delivery_date"
# What a raw row holds besides its delivered content: where and when it was delivered. It changes
# every night for nearly every row of a snapshot (a row deleted above shifts the row numbers
# below), so it is kept in the raw table alone (standardise/assets.raw_copies).
PROVENANCE = (FILE, ROW_NUMBER, DELIVERY_DATE)
# Parts of one delivery read at once (each holds its file's bytes and text while it is read).
READERS = 2
# A row's content (every delivered column, not its file or row number) hashed twice with two
# seeds: 128 bits, so that a row unchanged since the last delivery is known without comparing
# its text (assets/standardise/delta.py reuses its standardised values).
ROW_HASH = ("_row_hash", "_row_hash_2")


def ingest_state_table(source: str) -> str:
    """One row: the delivery in `raw.<source>` (label, digest of its files), the reading code's
    fingerprint and the run that read it (`run_id`, which staging compares with)."""
    return f"raw.{source}__ingest"


LEDGER_SCHEMA = {
    "source": pl.String,
    "delivery_date": pl.Date,
    "file": pl.String,
    "rows_read": pl.Int64,
    "accepted": pl.Int64,
    "quarantined": pl.Int64,
}


@dataclass
class IngestResult:
    source: str
    delivery: Delivery | None
    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    ledger: pl.DataFrame
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (delivery label, reason)
    notes: list[str] = field(default_factory=list)
    digest: str | None = None  # of the delivery's files (deliveries.delivery_digest)
    stamp: str | None = None  # their names, sizes and times (deliveries.delivery_stamp)
    # The delivery is the one already in the raw tables, byte for byte: nothing was read, and
    # accepted, quarantined and ledger are empty (the stored tables hold them).
    unchanged: bool = False

    @property
    def rows_read(self) -> int:
        return int(self.ledger["rows_read"].sum()) if self.ledger.height else 0

    @property
    def quarantine_share(self) -> float:
        return self.quarantined.height / self.rows_read if self.rows_read else 0.0


def with_row_hashes(frame: pl.DataFrame, data_columns: list[str]) -> pl.DataFrame:
    """`frame` with the ROW_HASH columns of its `data_columns` (in any order: the order of the
    columns in a file does not count)."""
    return frame.with_columns(*(row_content_hash(data_columns, seed).alias(name) for seed, name in enumerate(ROW_HASH)))


def empty_accepted(contract: SourceContract) -> pl.DataFrame:
    return pl.DataFrame(
        schema={c: pl.String for c in contract.columns}
        | {ROW_NUMBER: pl.Int64, FILE: pl.String, DELIVERY_DATE: pl.Date}
        | dict.fromkeys(ROW_HASH, pl.UInt64)
    )


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "source": pl.String, "delivery_date": pl.Date, "file": pl.String,
            "row_number": pl.Int64, "rule": pl.String, "reason": pl.String, "record": pl.String,
        }
    )


def _data_columns(frame: pl.DataFrame) -> list[str]:
    """The delivered columns of a part or delivery read (not its file, row number, hashes or checks)."""
    return [c for c in frame.columns if c not in (FILE, ROW_NUMBER, *ROW_HASH, *ROW_CHECKS)]


def _read_delivery(delivery: Delivery, landing_dir: Path, contract: SourceContract, digest: bool = False):
    """Every part of one delivery, with each row's ROW_HASH and its row checks
    (quarantine.row_checks), and the delivery's digest when `digest` (else None); raises
    DeliveryFileError for the first unusable file."""
    if not delivery.data_files:
        raise DeliveryFileError(delivery.label, "the delivery holds no CSV, XLSX or Parquet file")
    parts: list[pl.DataFrame] = []
    bad: list[pl.DataFrame] = []
    read_counts: dict[str, int] = {}
    notes: list[str] = []
    files = [(path, path.relative_to(landing_dir).as_posix()) for path in delivery.data_files]

    def read_part(path: Path, file: str):
        frame, read = read_delivery_file(path, file, contract)
        # What each row's hashes and checks need of it alone, beside the other parts' reading.
        return with_row_hashes(row_checks(frame, contract), _data_columns(frame)), read

    # The parts side by side: most of a file's reading (numpy over its bytes, Polars' parser,
    # the Excel reader) runs without the GIL. At 1M persons the two DTSEN parts took 1.75 s
    # against 2.3 to 2.85 s one after the other. Results and the first error come in file order.
    # Each part's hashes and checks, and the digest, are made while another part is still read:
    # at 1M persons the placements (a CSV part read in 0.6 s, an Excel part in 0.7 s) took 0.90
    # against 0.93 s, DTSEN 1.99 against 2.11 s (the readers keep both cores busy already).
    with ThreadPoolExecutor(max_workers=min(len(files), READERS)) as pool:
        reading = [pool.submit(read_part, *part) for part in files]
        digesting = pool.submit(delivery_digest, delivery) if digest else None
        reads = [future.result() for future in reading]
        made = digesting.result() if digesting else None
    for (_, file), (frame, read) in zip(files, reads):
        parts.append(frame)
        bad.append(read.bad_rows.with_columns(pl.lit(file).alias(FILE)))
        read_counts[file] = read.rows_read
        notes.extend(read.notes)
    rows = pl.concat(parts, how="diagonal_relaxed")
    if len({frozenset(_data_columns(part)) for part in parts}) > 1:
        # A part without another's extra column holds nulls there: hashed over the delivery's columns.
        rows = with_row_hashes(rows, _data_columns(rows))
    return rows, pl.concat(bad), read_counts, notes, made


def _record_json(frame: pl.DataFrame, columns: list[str]) -> pl.Expr:
    return pl.struct(columns).struct.json_encode().alias("record") if columns else pl.lit(None, pl.String).alias("record")


def ingest_source(landing_dir: Path, contract: SourceContract, stored_digest: str | None = None,
                  stored_stamp: str | None = None) -> IngestResult:
    """The newest complete delivery that can be read, split into accepted and quarantined rows;
    or, when it is byte for byte the delivery of `stored_digest` (the one in the raw tables), an
    `unchanged` result without reading it. Where the delivery's files have `stored_stamp`
    (deliveries.delivery_stamp, stored with the digest), the digest is not computed again."""
    deliveries, notes = scan_source(landing_dir, contract.name)
    rejected: list[tuple[str, str]] = []
    for delivery in deliveries:
        if not delivery.complete:
            notes.append(f"skipped {delivery.label}: no _SUCCESS file yet (still being written)")
            continue
        for skipped in delivery.skipped_files:
            notes.append(f"skipped {delivery.label}/{skipped.name}: not a data file")
        stamp = delivery_stamp(delivery)
        # The label is digested with the files: another delivery's folder cannot have the stored
        # digest, so then the files are digested beside their reading, not before it.
        comparable = stored_digest is not None and (stored_stamp is None or stamp_label(stored_stamp) == delivery.label)
        digest = (stored_digest if stamp == stored_stamp else delivery_digest(delivery)) if comparable else None
        if comparable and digest == stored_digest:
            return IngestResult(contract.name, delivery, empty_accepted(contract), empty_quarantine(),
                                pl.DataFrame(schema=LEDGER_SCHEMA), rejected, notes, digest, stamp,
                                unchanged=True)
        try:
            rows, bad_rows, read_counts, read_notes, made = _read_delivery(delivery, landing_dir, contract,
                                                                           digest=digest is None)
            digest = digest or made
        except DeliveryFileError as exc:
            rejected.append((delivery.label, f"{exc.file}: {exc.reason}"))
            continue
        notes.extend(read_notes)
        result = _split(contract, delivery, rows, bad_rows, read_counts, rejected, notes)
        result.digest, result.stamp = digest, stamp
        return result
    if not rejected:
        notes.append(f"no complete delivery of {contract.name}: the source is empty for this run")
    else:
        notes.append(f"no usable delivery of {contract.name}: the source is empty for this run")
    return IngestResult(
        contract.name, None, empty_accepted(contract), empty_quarantine(),
        pl.DataFrame(schema=LEDGER_SCHEMA), rejected, notes,
    )


def _split(contract, delivery, rows, bad_rows, read_counts, rejected, notes) -> IngestResult:
    data_columns = _data_columns(rows)
    # The row hash (_read_delivery) is the contract's content hash too when the files hold the
    # contract's columns and no others (hashed once: both seeds 0.15 s at 1M rows).
    only_contract_columns = set(data_columns) == set(contract.columns)
    accepted, quarantined = split_rows(rows, contract, ROW_HASH[0] if only_contract_columns else None)
    delivery_date = pl.lit(delivery.delivery_date, dtype=pl.Date)
    accepted = accepted.with_columns(delivery_date.alias(DELIVERY_DATE)).select(pl.exclude(ROW_HASH), *ROW_HASH)
    row_quarantine = quarantined.select(
        pl.lit(contract.name).alias("source"),
        delivery_date.alias("delivery_date"),
        pl.col(FILE).alias("file"),
        pl.col(ROW_NUMBER).alias("row_number"),
        pl.col(RULE).alias("rule"),
        pl.col(REASON).alias("reason"),
        _record_json(quarantined, data_columns),
    )
    parse_quarantine = bad_rows.select(
        pl.lit(contract.name).alias("source"),
        delivery_date.alias("delivery_date"),
        pl.col(FILE).alias("file"),
        pl.col(ROW_NUMBER).alias("row_number"),
        pl.col("rule"),
        pl.col("reason"),
        pl.lit(None, dtype=pl.String).alias("record"),
    )
    all_quarantine = pl.concat([parse_quarantine, row_quarantine], how="vertical_relaxed").sort(
        "file", "row_number"
    )
    # value_counts, not group_by: 0.025 s against 0.12 s over the 989,710 rows of a 1M DTSEN delivery.
    per_file_q = all_quarantine["file"].value_counts(name="quarantined")
    per_file_a = accepted[FILE].value_counts(name="accepted").rename({FILE: "file"})
    ledger = (
        pl.DataFrame(
            {"file": list(read_counts), "rows_read": list(read_counts.values())},
            schema={"file": pl.String, "rows_read": pl.Int64},
        )
        .join(per_file_a, on="file", how="left")
        .join(per_file_q, on="file", how="left")
        .select(
            pl.lit(contract.name).alias("source"),
            delivery_date.alias("delivery_date"),
            "file",
            "rows_read",
            pl.col("accepted").fill_null(0).cast(pl.Int64),
            pl.col("quarantined").fill_null(0).cast(pl.Int64),
        )
    )
    return IngestResult(contract.name, delivery, accepted, all_quarantine, ledger, rejected, notes)
