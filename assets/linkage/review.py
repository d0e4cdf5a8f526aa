"""Clerical review: the pairs the model is unsure about go to a queue; a reviewer answers match or
non-match (by editing `answers.csv` or with `python -m pipelines.review`); the answers are read on
every later run as must-links and cannot-links that the model never overrides.

The queue and the answers hold record keys (`<source>:<source_record_id>`), weights and
per-comparison contributions only: the reviewer looks the records up in the source systems."""

from __future__ import annotations

import csv
import hashlib
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

ANSWERS = ("match", "non-match")
ANSWER_COLUMNS = ["pair_id", "record_key_l", "record_key_r", "answer", "reviewer", "answered_at"]


class ReviewAnswerError(ValueError):
    pass


def pair_id(record_key_l: str, record_key_r: str) -> str:
    a, b = sorted((record_key_l, record_key_r))
    return hashlib.sha256(f"{a}|{b}".encode()).hexdigest()[:12]


def pair_id_expr() -> pl.Expr:
    lo = pl.min_horizontal("record_key_l", "record_key_r")
    hi = pl.max_horizontal("record_key_l", "record_key_r")
    return pl.concat_str([lo, pl.lit("|"), hi]).map_batches(
        lambda s: pl.Series([hashlib.sha256(v.encode()).hexdigest()[:12] for v in s.to_list()],
                            dtype=pl.String),
        return_dtype=pl.String,
    )


def read_answers(path: Path) -> pl.DataFrame:
    """The reviewers' answers; the newest answer for a pair wins. A malformed row is an error
    that names the file, the line and the reason (an answer is never guessed)."""
    empty = pl.DataFrame(schema={c: pl.String for c in ANSWER_COLUMNS})
    if not path.exists():
        return empty
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("record_key_l", "record_key_r", "answer") if c not in (reader.fieldnames or [])]
        if missing:
            raise ReviewAnswerError(f"{path}: missing column {missing[0]}")
        for row in reader:
            line = reader.line_num
            answer = (row.get("answer") or "").strip().lower()
            if answer not in ANSWERS:
                raise ReviewAnswerError(f"{path}, line {line}: answer must be 'match' or 'non-match', not {answer!r}")
            left, right = (row.get("record_key_l") or "").strip(), (row.get("record_key_r") or "").strip()
            if not left or not right or left == right:
                raise ReviewAnswerError(f"{path}, line {line}: two different record keys are needed")
            rows.append({
                "pair_id": pair_id(left, right), "record_key_l": min(left, right),
                "record_key_r": max(left, right), "answer": answer,
                "reviewer": (row.get("reviewer") or "").strip(), "answered_at": (row.get("answered_at") or "").strip(),
            })
    if not rows:
        return empty
    return pl.DataFrame(rows, schema={c: pl.String for c in ANSWER_COLUMNS}).unique(
        subset="pair_id", keep="last", maintain_order=True
    )


def append_answer(path: Path, record_key_l: str, record_key_r: str, answer: str, reviewer: str) -> None:
    if answer not in ANSWERS:
        raise ReviewAnswerError(f"answer must be 'match' or 'non-match', not {answer!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(ANSWER_COLUMNS)
        writer.writerow([pair_id(record_key_l, record_key_r), record_key_l, record_key_r, answer, reviewer,
                         datetime.now(timezone.utc).isoformat(timespec="seconds")])


def constraints_from_answers(answers: pl.DataFrame) -> tuple[pl.DataFrame, frozenset[tuple[str, str]]]:
    """(must-links as record_key_l, record_key_r, reason; cannot-links as key pairs)."""
    must = answers.filter(pl.col("answer") == "match").select(
        "record_key_l", "record_key_r", pl.lit("reviewer: match").alias("reason")
    )
    cannot = frozenset(
        answers.filter(pl.col("answer") == "non-match").select("record_key_l", "record_key_r").iter_rows()
    )
    return must, cannot


def review_queue(pairs: pl.DataFrame, answers: pl.DataFrame, lower: float, upper: float) -> pl.DataFrame:
    """Scored pairs with lower <= probability < upper that no reviewer has answered yet, the
    least certain first, with each comparison's contribution (mw_*) to explain them."""
    explain = [c for c in pairs.columns if c.startswith("mw_")]
    queue = pairs.filter(pl.col("match_probability").is_between(lower, upper, closed="left")).with_columns(
        pair_id_expr().alias("pair_id")
    )
    if answers.height:
        queue = queue.filter(~pl.col("pair_id").is_in(answers["pair_id"].implode()))
    return queue.select(
        "pair_id", "record_key_l", "record_key_r",
        pl.col("match_probability").round(4), pl.col("match_weight").round(2),
        *[pl.col(c).round(2) for c in explain],
    ).sort((pl.col("match_probability") - 0.5).abs(), "pair_id")
