"""`make bench`: the benchmark suite at several population sizes.

    python -m bench.run --sizes 10000,100000,1000000 [--quick] [--no-floor]

For each size: the population is generated once (or reused: ``data/generated/<n>-<seed>-parquet``,
cached by size and seed), then the nightly job runs headless on a fresh warehouse and every stage
is measured (bench/bench_nightly.py): wall time, CPU time, peak resident memory, rows out, and
patients per second, against DuckDB's own read-everything floor. Each run writes a JSON file to
``bench/results/``; the suite prints the Markdown table for docs/benchmarks.md with the two ratios
that do not depend on the machine's speed: the nightly run against the floor, and the growth from
100k to 1M patients (10x the patients should cost at most about 10x).

``--quick`` runs the smallest size only (the CI smoke test runs it; no timing is asserted).
"""

import argparse
import json
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.bench_nightly import STAGES
from bench.bench_nightly import run as run_nightly
from pipelines.settings import REPO_ROOT


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/benchmarks.md: seconds per stage, then the totals and ratios."""
    stages = [s for s in STAGES if any(s in r["stages"] for r in results)]
    head = ["patients", *[f"{s} s" for s in stages], "nightly s (excl. training)"]
    head += ["CPU s", "peak GiB", "patients/s", "DuckDB floor s", "nightly / floor"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in results:
        cells = [f"{r['patients']:,}"]
        cells += [f"{r['stages'][s]['seconds']:.1f}" if s in r["stages"] else "—" for s in stages]
        floor = r.get("duckdb_read_floor_seconds")
        ratio = r.get("nightly_to_floor_ratio")
        cells += [
            f"{r['nightly_seconds_excluding_training']:.1f}",
            f"{r['job_cpu_seconds']:.0f}",
            f"{r['peak_rss_mib'] / 1024:.1f}",
            f"{r['patients_per_second']:,.0f}",
            "—" if floor is None else f"{floor:.1f}",
            "—" if ratio is None else f"{ratio:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def growth(results: list[dict[str, Any]]) -> list[str]:
    """Time at each size against the size below it, with the patient ratio."""
    ordered = sorted(results, key=lambda r: r["patients"])
    lines = []
    for small, large in pairwise(ordered):
        a = small["nightly_seconds_excluding_training"]
        b = large["nightly_seconds_excluding_training"]
        lines.append(
            f"{large['patients']:,} vs {small['patients']:,} patients "
            f"({large['patients'] / small['patients']:.0f}x): nightly time x{b / a:.1f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="popcare benchmark suite")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seed", type=int, default=20260930)
    parser.add_argument("--quick", action="store_true", help="only the smallest size")
    parser.add_argument("--no-floor", action="store_true", help="skip DuckDB's read floor")
    parser.add_argument("--work", type=Path, default=Path("/tmp/popcare-bench"))
    parser.add_argument(
        "--results", type=Path, default=REPO_ROOT / "bench" / "results", help="JSON folder"
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.quick:
        sizes = sizes[:1]
    results_dir = args.results
    results_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for patients in sizes:
        result = run_nightly(
            patients, args.seed, args.work / f"nightly-{patients}", floor=not args.no_floor
        )
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        out = results_dir / f"nightly-{patients}-{stamp}.json"
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"{patients:,} patients: {out}", flush=True)
        results.append(result)
    print(table(results))
    for line in growth(results):
        print(line)


if __name__ == "__main__":
    main()
