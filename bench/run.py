"""`make bench`: the benchmark suite at several population sizes.

    python -m bench.run --sizes 10000,100000,1000000 [--quick]

For each size: the generator (bench/bench_generate.py) and ingestion — raw load, staging with
quarantine, core build, against DuckDB's own read-everything floor (bench/bench_ingest.py). Each
result is one JSON line in bench/results/*.jsonl; a summary table is printed for docs/benchmarks.md.
``--quick`` runs the smallest size only and skips nothing else (a smoke test, no timing assertions).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.bench_ingest import run as run_ingest

ROOT = Path(__file__).resolve().parents[1]


def _generate(patients: int, work: Path) -> dict:
    out = work / f"generate-{patients}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_generate",
            "--patients",
            str(patients),
            "--format",
            "parquet",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="popcare benchmark suite")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help="only the smallest size")
    parser.add_argument("--work", type=Path, default=Path("/tmp/popcare-bench"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.quick:
        sizes = sizes[:1]
    rows = []
    for patients in sizes:
        generated = _generate(patients, args.work)
        ingest = run_ingest(patients, 20260930, args.work / f"ingest-{patients}")
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        with (results / "suite.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"generate": generated, "ingest": ingest}) + "\n")
        stages = ingest["stages"]
        rows.append(
            f"| {patients:,} | {generated.get('seconds', float('nan')):.1f} | "
            f"{stages['raw']['seconds']:.1f} | {stages['staging']['seconds']:.1f} | "
            f"{stages['core']['seconds']:.1f} | {ingest['duckdb_read_floor_seconds']:.1f} | "
            f"{ingest['ingest_to_floor_ratio']:.1f} | {ingest['peak_rss_mib']:,.0f} |"
        )
    print(
        "| patients | generate s | raw s | staging s | core s | DuckDB floor s | "
        "(raw+staging)/floor | peak MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
