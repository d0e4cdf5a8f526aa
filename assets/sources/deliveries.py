"""Finds deliveries in the landing folder (contract section 1): which delivery folders are complete,
which files in them are data, and what was skipped and why."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from assets.sources.contracts import SOURCE_NAMES

DATA_EXTENSIONS = (".csv", ".xlsx", ".parquet")
SUCCESS_MARKER = "_SUCCESS"


@dataclass(frozen=True)
class Delivery:
    source: str
    delivery_date: date
    folder: Path
    complete: bool
    data_files: tuple[Path, ...]
    skipped_files: tuple[Path, ...]

    @property
    def label(self) -> str:
        return f"{self.source}/{self.delivery_date.isoformat()}"


@dataclass
class LandingScan:
    """Deliveries per source, newest first, and the warnings an operator should see."""

    deliveries: dict[str, list[Delivery]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _is_data_file(path: Path) -> bool:
    return (
        path.is_file()
        and not path.name.startswith((".", "~$"))
        and path.suffix.lower() in DATA_EXTENSIONS
    )


def _parse_delivery_date(name: str) -> date | None:
    try:
        parsed = date.fromisoformat(name)
    except ValueError:
        return None
    # fromisoformat also takes 20261127; the contract says YYYY-MM-DD only.
    return parsed if parsed.isoformat() == name else None


def scan_source(landing_dir: Path, source: str) -> tuple[list[Delivery], list[str]]:
    """All delivery folders of one source, newest first, with the warnings about skipped ones."""
    warnings: list[str] = []
    source_dir = landing_dir / source
    if not source_dir.is_dir():
        return [], warnings
    deliveries: list[Delivery] = []
    for folder in sorted(source_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith("_"):
            continue
        delivery_date = _parse_delivery_date(folder.name)
        if delivery_date is None:
            warnings.append(f"skipped folder {source}/{folder.name}: not a YYYY-MM-DD delivery date")
            continue
        files = sorted(p for p in folder.iterdir() if p.is_file())
        data = tuple(p for p in files if _is_data_file(p))
        skipped = tuple(p for p in files if not _is_data_file(p) and p.name != SUCCESS_MARKER)
        deliveries.append(
            Delivery(
                source=source,
                delivery_date=delivery_date,
                folder=folder,
                complete=(folder / SUCCESS_MARKER).is_file(),
                data_files=data,
                skipped_files=skipped,
            )
        )
    deliveries.sort(key=lambda d: d.delivery_date, reverse=True)
    return deliveries, warnings


def scan_landing(landing_dir: Path) -> LandingScan:
    scan = LandingScan()
    if not landing_dir.is_dir():
        scan.warnings.append(f"landing folder {landing_dir} does not exist")
        return scan
    for child in sorted(landing_dir.iterdir()):
        if child.is_dir() and not child.name.startswith("_") and child.name not in SOURCE_NAMES:
            scan.warnings.append(f"skipped folder {child.name}: not one of the sources {SOURCE_NAMES}")
    for source in SOURCE_NAMES:
        deliveries, warnings = scan_source(landing_dir, source)
        scan.deliveries[source] = deliveries
        scan.warnings.extend(warnings)
    return scan


def complete_deliveries_fingerprint(landing_dir: Path) -> str:
    """A short hash of every complete delivery (folder and file sizes and times): it changes when
    a new complete delivery lands, which is what the sensor watches."""
    digest = hashlib.sha256()
    scan = scan_landing(landing_dir)
    for source in SOURCE_NAMES:
        for delivery in scan.deliveries.get(source, []):
            if not delivery.complete:
                continue
            digest.update(delivery.label.encode())
            for path in delivery.data_files:
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def delivery_stamp(delivery: Delivery) -> str:
    """The delivery's label and each data file's name, size, and modification and change times:
    a file written again has other times (the change time is the kernel's, which no copy sets
    back). Where it is the stamp of the delivery last ingested, that delivery's digest stands
    without reading the files: 0.14 s a night for DTSEN's 176 MB at 1M persons."""
    parts = [delivery.label]
    for path in sorted(delivery.data_files):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}")
    return "|".join(parts)


def stamp_label(stamp: str) -> str:
    """The label of the delivery a `delivery_stamp` is of."""
    return stamp.split("|", 1)[0]


def delivery_digest(delivery: Delivery) -> str:
    """sha256 over the delivery's label and each data file's name and bytes: the same delivery,
    byte for byte, as the one ingested before (then nothing in it needs reading again)."""
    digest = hashlib.sha256(delivery.label.encode())
    for path in sorted(delivery.data_files):
        with open(path, "rb") as handle:
            digest.update(b"\0" + path.name.encode() + b"\0" + hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()
