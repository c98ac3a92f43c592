"""Benchmark ingestion: raw load, staging (validation + quarantine) and the core build, against the
floor of DuckDB reading every input file once into a table.

    python -m bench.bench_ingest --patients 1000000

Populations are generated once into ``data/generated/<patients>-<seed>-parquet`` (ignored by git)
and reused. Prints one JSON object per run and appends it to ``bench/results/ingest.jsonl``:
seconds, CPU seconds and rows per stage, rows/second, peak resident memory, warehouse size, and the
ratio of raw+staging time to DuckDB's own read-everything time.
"""

import argparse
import json
import os
import platform
import resource
import time
from datetime import date, datetime
from pathlib import Path

import duckdb

from pipelines.contract import TABLES
from pipelines.core import build_core
from pipelines.ingest import load_table, take_inventory
from pipelines.settings import REPO_ROOT
from pipelines.staging import stage_table
from pipelines.synthetic import generate

START, END = date(2023, 10, 1), date(2026, 9, 30)


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def population(patients: int, seed: int) -> Path:
    folder = REPO_ROOT / "data" / "generated" / f"{patients}-{seed}-parquet"
    if not (folder / "generator_manifest.json").is_file():
        generate(patients, seed, START, END, folder, "parquet")
    return folder


class Stage:
    def __init__(self, name: str, timings: dict) -> None:
        self.name, self.timings = name, timings

    def __enter__(self) -> "Stage":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = {
            "seconds": round(time.perf_counter() - self.wall, 2),
            "cpu_seconds": round(time.process_time() - self.cpu, 2),
        }


def floor_seconds(folder: Path, work: Path) -> float:
    """DuckDB alone: CREATE TABLE AS SELECT * FROM read_parquet(...) for every input table."""
    inventory = take_inventory(folder)
    con = duckdb.connect(str(work / "floor.duckdb"))
    t0 = time.perf_counter()
    for name, files in inventory.files.items():
        if files:
            paths = [str(f.path) for f in files]
            con.execute(f'create table "{name}" as select * from read_parquet($p)', {"p": paths})
    seconds = time.perf_counter() - t0
    con.close()
    return seconds


def run(patients: int, seed: int, work: Path) -> dict:
    folder = population(patients, seed)
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.duckdb*"):
        old.unlink()
    warehouse = work / "warehouse.duckdb"
    timings: dict[str, dict] = {}
    con = duckdb.connect(str(warehouse))
    inventory = take_inventory(folder)
    rows_raw = rows_staged = 0
    with Stage("raw", timings):
        for name in TABLES:
            rows_raw += load_table(
                con, name, inventory.files[name], "bench", datetime.now()
            ).rows_loaded
    with Stage("staging", timings):
        for name in TABLES:
            rows_staged += stage_table(con, name, END).rows_loaded
    with Stage("core", timings):
        core_rows = build_core(con, END)
    con.close()
    ingest_seconds = timings["raw"]["seconds"] + timings["staging"]["seconds"]
    floor = floor_seconds(folder, work)
    input_bytes = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
    return {
        "patients": patients,
        "seed": seed,
        "stages": timings,
        "rows_raw": rows_raw,
        "rows_staged": rows_staged,
        "rows_core": sum(int(v.get("rows", 0)) for v in core_rows.values()),
        "raw_rows_per_second": round(rows_raw / timings["raw"]["seconds"]),
        "staging_rows_per_second": round(rows_raw / timings["staging"]["seconds"]),
        "duckdb_read_floor_seconds": round(floor, 2),
        "ingest_to_floor_ratio": round(ingest_seconds / floor, 2),
        "peak_rss_mib": _peak_mib(),
        "input_mib": round(input_bytes / 2**20, 1),
        "warehouse_mib": round(warehouse.stat().st_size / 2**20, 1),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "duckdb": duckdb.__version__,
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260930)
    parser.add_argument("--work", type=Path, default=Path("/tmp/popcare-bench-ingest"))
    args = parser.parse_args()
    result = run(args.patients, args.seed, args.work)
    line = json.dumps(result)
    print(line)
    results = REPO_ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    with (results / "ingest.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


if __name__ == "__main__":
    main()
