"""Benchmark the nightly job end to end, per stage, on a generated population.

    python -m bench.bench_nightly --patients 100000 [--seed 20260930] [--work DIR] [--no-floor]

The population is generated once into ``data/generated/<patients>-<seed>-parquet`` (ignored by git)
and reused. The job runs in-process through Dagster's Python API on a fresh warehouse, exactly as
``popcare run`` does; a sampling thread records CPU time and resident memory every 0.2 s, and each
step is attributed to a stage by its asset key:

    ingest (raw load + staging + contract checks), core, readmissions, measures, features,
    training, scoring, outreach, report (run report and data-quality report)

A fresh warehouse has no model, so the run trains one ("training", reported apart: the nightly
target excludes retraining). Results: one JSON file per run in ``bench/results/`` with wall time,
CPU time, peak resident memory and rows out per stage, patients/second, warehouse and output sizes,
and the DuckDB floor: the time DuckDB alone takes to read every input file once into tables
(``CREATE TABLE AS SELECT * FROM read_parquet(...)``), the least any pipeline that looks at all the
data must spend.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from bench.bench_ingest import END, floor_seconds, population
from pipelines.settings import REPO_ROOT

STAGES = (
    "ingest",
    "core",
    "readmissions",
    "measures",
    "features",
    "training",
    "scoring",
    "outreach",
    "report",
)


def stage_of(step_key: str) -> str:
    """The benchmark stage of a Dagster step (its key is the asset key joined by '__')."""
    parts = step_key.split("__")
    layer, name = parts[0], parts[-1]
    if layer in ("raw", "staging"):
        return "ingest"
    if layer == "core":
        return "core"
    if layer == "models":
        return "training"
    if layer == "report" or name == "data_quality_report":
        return "report"
    if layer == "outreach" or name.startswith("outreach"):
        return "outreach"
    if name.startswith("readmission"):
        return "readmissions"
    if name.startswith("measure"):
        return "measures"
    if name == "risk_features":
        return "features"
    if name == "risk_scores":
        return "scoring"
    return "ingest" if layer == "audit" else layer


class Sampler(threading.Thread):
    """(wall, cpu, rss MiB) of this process every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []
        self._halt = threading.Event()

    @staticmethod
    def rss_mib() -> float:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    def sample(self) -> None:
        self.samples.append((time.time(), time.process_time(), self.rss_mib()))

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample()


def _cpu_at(samples: list[tuple[float, float, float]], moment: float) -> float:
    """CPU seconds used by the process at ``moment``, linearly interpolated between samples."""
    before = [s for s in samples if s[0] <= moment]
    after = [s for s in samples if s[0] >= moment]
    if not before:
        return after[0][1] if after else 0.0
    if not after:
        return before[-1][1]
    (t0, c0, _), (t1, c1, _) = before[-1], after[0]
    return c0 if t1 == t0 else c0 + (c1 - c0) * (moment - t0) / (t1 - t0)


def step_intervals(records: Iterable[Any]) -> list[tuple[str, float, float]]:
    """(step key, start, end) of every step of a run, from the event log's STEP_START and end
    records (``instance.all_logs(run_id)``: EventLogEntry with a timestamp)."""
    started: dict[str, float] = {}
    spans = []
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            started[event.step_key] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            spans.append((event.step_key, started.pop(event.step_key), record.timestamp))
    return spans


def stage_profile(
    spans: list[tuple[str, float, float]], samples: list[tuple[float, float, float]]
) -> dict[str, dict[str, float]]:
    stages: dict[str, dict[str, float]] = {}
    for step, start, end in spans:
        entry = stages.setdefault(
            stage_of(step), {"seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mib": 0.0, "steps": 0}
        )
        entry["seconds"] += end - start
        entry["cpu_seconds"] += max(0.0, _cpu_at(samples, end) - _cpu_at(samples, start))
        inside = [s[2] for s in samples if start <= s[0] <= end]
        entry["peak_rss_mib"] = max(entry["peak_rss_mib"], *inside, 0.0)
        entry["steps"] += 1
    return {
        name: {k: round(v, 2) if isinstance(v, float) else v for k, v in stages[name].items()}
        for name in STAGES
        if name in stages
    }


def _stage_of_table(schema: str, table: str) -> str | None:
    """The stage that writes ``schema.table``: the stage of the asset of the same key. Audit
    tables and work tables (a ``__`` in the name) count for none."""
    if schema not in ("raw", "staging", "core", "marts") or "__" in table:
        return None
    stage = stage_of(f"{schema}__{table}")
    return stage if stage in STAGES else None


def rows_out(warehouse: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            stage = _stage_of_table(schema, table)
            if stage is None:
                continue
            n = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            counts[stage] = counts.get(stage, 0) + int(n)
    return counts


def _size_mib(path: Path) -> float:
    if path.is_file():
        return round(path.stat().st_size / 2**20, 1)
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def run_nightly(
    folder: Path, work: Path, stages: Iterable[str] | None = None
) -> tuple[Any, list[tuple[str, float, float]], list[tuple[float, float, float]]]:
    """Run the nightly job on ``folder`` into ``work`` with an ephemeral Dagster instance; with
    ``stages``, only the assets of those stages (on a warehouse that holds the earlier ones)."""
    from dagster import DagsterInstance

    from pipelines.cli import build_run_config
    from pipelines.definitions import defs

    config = build_run_config(
        str(folder), str(work / "out"), str(work / "warehouse.duckdb"), END.isoformat(), None
    )
    config.pop("loggers")
    sampler = Sampler()
    sampler.sample()
    sampler.start()
    try:
        with DagsterInstance.ephemeral() as instance:
            selection = None
            if stages is not None:
                wanted = set(stages)
                selection = [
                    key
                    for key in defs.resolve_asset_graph().get_all_asset_keys()
                    if stage_of("__".join(key.path)) in wanted
                ]
            result = defs.resolve_job_def("nightly").execute_in_process(
                run_config=config,
                instance=instance,
                raise_on_error=False,
                asset_selection=selection,
            )
            spans = step_intervals(instance.all_logs(result.run_id))
    finally:
        sampler.stop()
    return result, spans, sampler.samples


def run(
    patients: int,
    seed: int,
    work: Path,
    floor: bool = True,
    stages: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Benchmark one nightly run. ``stages`` (a resumed run): keep the warehouse in ``work`` and
    run only those stages' assets."""
    folder = population(patients, seed)
    work.mkdir(parents=True, exist_ok=True)
    if stages is None:  # a fresh warehouse (and no registered model)
        for old in work.glob("*.duckdb*"):
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result, spans, samples = run_nightly(folder, work, stages)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    profile = stage_profile(spans, samples)
    for stage, n in rows_out(work / "warehouse.duckdb").items():
        if stage in profile:
            profile[stage]["rows_out"] = n
    nightly = sum(v["seconds"] for k, v in profile.items() if k != "training")
    floor_s = floor_seconds(folder, work) if floor else None
    manifest = json.loads((folder / "generator_manifest.json").read_text())
    return {
        "patients": patients,
        "seed": seed,
        "success": bool(result.success),
        "failed_steps": failed,
        "stages": profile,
        "slowest_steps": [
            {"step": step, "stage": stage_of(step), "seconds": round(end - start, 2)}
            for step, start, end in sorted(spans, key=lambda s: s[1] - s[2])[:30]
        ],
        "job_seconds": round(wall, 2),
        "job_cpu_seconds": round(cpu, 2),
        "nightly_seconds_excluding_training": round(nightly, 2),
        "patients_per_second": round(patients / nightly, 1) if nightly else None,
        "input_rows": int(sum(manifest.get("row_counts", {}).values())),
        "duckdb_read_floor_seconds": None if floor_s is None else round(floor_s, 2),
        "nightly_to_floor_ratio": None if not floor_s else round(nightly / floor_s, 2),
        "peak_rss_mib": round(max(s[2] for s in samples), 1),
        "peak_rss_mib_getrusage": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "input_mib": _size_mib(folder),
        "warehouse_mib": _size_mib(work / "warehouse.duckdb"),
        "output_mib": _size_mib(work / "out"),
        "machine": {
            "cores": os.cpu_count(),
            "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "versions": _versions(),
        "measured_at": datetime.now().isoformat(timespec="seconds"),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("duckdb", "dagster", "polars", "scikit-learn")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260930)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--no-floor", action="store_true", help="skip the DuckDB floor")
    parser.add_argument(
        "--stages",
        default=None,
        help="comma-separated stages to run on the warehouse already in --work (resume a run)",
    )
    args = parser.parse_args()
    work = args.work or Path(f"/tmp/popcare-bench/nightly-{args.patients}")
    stages = args.stages.split(",") if args.stages else None
    result = run(args.patients, args.seed, work, floor=not args.no_floor, stages=stages)
    line = json.dumps(result)
    print(line)
    results = REPO_ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    (results / f"nightly-{args.patients}-{stamp}.json").write_text(
        json.dumps(result, indent=2) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
