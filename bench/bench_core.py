"""Time each core table's build on an existing warehouse: wall, CPU and peak resident memory.

The per-table profile behind docs/benchmarks.md ("Where the time goes"): run it on the warehouse a
nightly benchmark left behind (it holds staging), optionally under a DuckDB memory limit, e.g.

    .venv/bin/python -m bench.bench_core /tmp/popcare-bench/nightly-1000000/warehouse.duckdb \\
        --memory 6GB --tables medical_claim_adjudication,member_months

Each table is rebuilt in place (``build_core_table``), in core order; a table that fails (out of
memory) is reported with its error and the next one still runs. One JSON line per table.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import date
from pathlib import Path

import duckdb

from bench.bench_nightly import Sampler
from pipelines.core import CORE_TABLES, build_core_table


def profile(
    warehouse: Path, as_of: date, tables: list[str], memory: str | None
) -> list[dict[str, object]]:
    con = duckdb.connect(str(warehouse))
    con.execute("set enable_progress_bar = false")
    if memory:
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory):
            raise ValueError(f"memory limit {memory!r} is not like 6GB or 512MiB")
        con.execute(f"set memory_limit = '{memory}'")
    sampler = Sampler()
    sampler.start()
    results = []
    try:
        for name in tables:
            start = time.time()
            sampler.sample()
            wall, cpu = time.perf_counter(), time.process_time()
            error, rows = None, None
            try:
                rows = build_core_table(con, name, as_of).get("rows")
            except duckdb.Error as exc:
                error = str(exc).splitlines()[0]
            seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
            sampler.sample()
            peak = max(rss for moment, _, rss in sampler.samples if moment >= start)
            results.append(
                {
                    "table": name,
                    "seconds": round(seconds, 1),
                    "cpu_seconds": round(cpu_seconds, 1),
                    "peak_rss_mib": round(peak),
                    "rows": rows,
                    "error": error,
                }
            )
            print(json.dumps(results[-1]), flush=True)
    finally:
        sampler.stop()
        con.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 9, 30))
    parser.add_argument("--memory", default=None, help="DuckDB memory_limit, e.g. 6GB")
    parser.add_argument("--tables", default=None, help="comma-separated; default all, in order")
    args = parser.parse_args()
    names = [t.name for t in CORE_TABLES]
    tables = args.tables.split(",") if args.tables else names
    unknown = sorted(set(tables) - set(names))
    if unknown:
        parser.error(f"unknown core tables {unknown}; known: {', '.join(names)}")
    profile(args.warehouse, args.as_of, [t for t in names if t in tables], args.memory)


if __name__ == "__main__":
    main()
