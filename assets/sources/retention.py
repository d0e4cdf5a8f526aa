"""Retention of deliveries in the landing folder (UU 27/2022 art. 42-43: personal data is deleted
when no longer needed). A delivery older than the retention period is deleted once a newer one
of its source has been accepted; the delivery in use, and anything newer than it, always stays."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from assets.sources.contracts import SOURCE_NAMES
from assets.sources.deliveries import Delivery, scan_source


@dataclass
class RetentionPlan:
    cutoff: date
    expired: list[Delivery] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_retention(
    landing_dir: Path, retention_days: int, today: date, in_use: dict[str, date | None]
) -> RetentionPlan:
    """Which delivery folders to delete: dated before `today - retention_days` and before the
    delivery of their source in use tonight. A source with no delivery in use keeps everything
    (its last good delivery is not known, so none may go)."""
    plan = RetentionPlan(cutoff=today - timedelta(days=retention_days))
    for source in SOURCE_NAMES:
        deliveries, _ = scan_source(landing_dir, source)
        used = in_use.get(source)
        if used is None:
            if any(d.delivery_date < plan.cutoff for d in deliveries):
                plan.notes.append(f"{source}: no accepted delivery tonight, so none of its deliveries is removed")
            continue
        plan.expired.extend(
            d for d in deliveries if d.delivery_date < plan.cutoff and d.delivery_date < used
        )
    plan.expired.sort(key=lambda d: (d.source, d.delivery_date))
    return plan


def apply_retention(plan: RetentionPlan) -> tuple[list[str], list[str]]:
    """Deletes the planned folders; returns (removed labels, errors). Tries every folder."""
    removed, errors = [], []
    for delivery in plan.expired:
        try:
            shutil.rmtree(delivery.folder)
        except OSError as exc:
            errors.append(f"{delivery.label}: {exc.strerror or exc}")
        else:
            removed.append(delivery.label)
    return removed, errors
