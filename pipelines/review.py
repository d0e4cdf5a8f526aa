"""Clerical review from the command line: list the queue of uncertain pairs, answer one.

    python -m pipelines.review list [--limit 20]
    python -m pipelines.review answer PAIR_ID match|non-match --reviewer NAME

Answers go to $PADU_DATA_DIR/review/answers.csv (which a reviewer may also edit by hand) and are
read on the next run as must-links and cannot-links."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from assets.linkage.review import append_answer, read_answers
from assets.warehouse import env_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.review", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="show the pairs waiting for an answer")
    listing.add_argument("--limit", type=int, default=20)
    answer = commands.add_parser("answer", help="answer one pair")
    answer.add_argument("pair_id")
    answer.add_argument("answer", choices=["match", "non-match"])
    answer.add_argument("--reviewer", required=True)
    args = parser.parse_args(argv)

    settings, _ = env_settings()
    review_dir = settings.data_path / "review"
    queue_file = review_dir / "queue.csv"
    if not queue_file.exists():
        print(f"no review queue yet ({queue_file}): run the nightly job first", file=sys.stderr)
        return 1
    queue = pl.read_csv(queue_file, infer_schema=False)
    answered = read_answers(review_dir / "answers.csv")
    queue = queue.filter(~pl.col("pair_id").is_in(answered["pair_id"].implode()))
    if args.command == "list":
        with pl.Config(tbl_rows=args.limit, tbl_width_chars=200, fmt_str_lengths=40):
            print(queue.head(args.limit))
        print(f"{queue.height} pairs wait for an answer")
        return 0
    row = queue.filter(pl.col("pair_id") == args.pair_id)
    if row.is_empty():
        print(f"pair {args.pair_id} is not in the queue (or is answered already)", file=sys.stderr)
        return 1
    left, right = row.row(0, named=True)["record_key_l"], row.row(0, named=True)["record_key_r"]
    append_answer(review_dir / "answers.csv", left, right, args.answer, args.reviewer)
    print(f"{args.pair_id}: {args.answer} (applies from the next run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
