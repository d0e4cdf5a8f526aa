"""Command line: `python -m synthetic --landing data/landing --persons 10000 --seed 20261128 --delivery-date 2026-11-27`."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from synthetic.generator import generate_deliveries
from synthetic.noise import NOISE_PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synthetic",
        description="Write one synthetic delivery of each Padu source, with ground truth in <landing>/_truth/.")
    parser.add_argument("--landing", type=Path, default=Path("data/landing"), help="landing folder (default: data/landing)")
    parser.add_argument("--persons", type=int, default=10_000, help="DTSEN persons, roughly; other sources scale with it")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--delivery-date", type=date.fromisoformat, default=date(2026, 11, 27), help="YYYY-MM-DD")
    parser.add_argument("--noise", choices=sorted(NOISE_PROFILES), default="default")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    result = generate_deliveries(args.landing, persons=args.persons, seed=args.seed,
                                 delivery_date=args.delivery_date, noise=args.noise, progress=not args.no_progress)
    print(f"Synthetic deliveries for {result['delivery_date']} in {result['landing_dir']} "
          f"(seed {result['seed']}, noise {result['noise']}, {result['seconds']:.1f} s)")
    print(f"  latent population: {result['population']['persons']:,} persons in "
          f"{result['population']['households']:,} households")
    for source, rows in result["counts"].items():
        print(f"  {source:<16} {rows:>9,} rows  {result['records'][source]:>9,} records  "
              f"{result['true_persons'][source]:>9,} true persons")
        for path in result["files"][source]:
            print(f"      {path}")
    print(f"  truth: {result['truth']['person_truth']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
