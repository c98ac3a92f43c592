"""Generate a synthetic population into the input contract, chunk by chunk.

Chunks of ``CHUNK`` people are simulated independently, each from its own numpy Generator seeded
with (seed, chunk index), so output does not depend on timing or worker count. Chunks may be
simulated in worker processes; they are always written in chunk order to one file per table.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contract import TABLES
from pipelines.synthetic import noise as noise_mod
from pipelines.synthetic.events import simulate
from pipelines.synthetic.population import Window, make_population
from pipelines.synthetic.tables import build_all
from pipelines.synthetic.world import World, build_world

GENERATOR_VERSION = "1.0.0"
CHUNK = 25_000
FORMATS = ("csv", "parquet")

ARROW_TYPES = {
    "varchar": pa.large_string(),  # polars hands over large strings: no copy
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "integer": pa.int32(),
    "decimal(18,2)": pa.decimal128(18, 2),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}


def _days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def generate_chunk(
    world: World,
    seed: int,
    chunk: int,
    first: int,
    size: int,
    start: date,
    end: date,
    noise: float,
    n_total: int,
) -> tuple[dict[str, pl.DataFrame], dict[str, list]]:
    """Simulate one chunk of people and return its contract tables and planted faults."""
    rng = np.random.default_rng([seed, chunk])
    win = Window(_days(start), _days(end))
    gid = np.arange(first + 1, first + size + 1, dtype=np.int64)
    pop = make_population(rng, gid, win, world.n_pcp)
    ev = simulate(rng, pop, win)
    tables = build_all(pop, ev, win, world, chunk, rng)
    faults: dict[str, list] = {}
    if noise > 0:
        nrng = np.random.default_rng([seed, chunk, 0x5EED])
        # Unknown person ids start past the population and are unique per chunk.
        unknown = n_total + 1 + chunk * 1_000_000
        for name in TABLES:
            tables[name], faults[name] = noise_mod.apply(
                tables[name], name, noise, nrng, end, unknown + list(TABLES).index(name) * 50_000
            )
    return tables, faults


def _schema(table: str, noise: bool) -> pa.Schema:
    # With noise on, columns that carry malformed dates are text (a date column cannot hold them).
    text = set(noise_mod.string_date_columns(table)) if noise else set()
    return pa.schema(
        [
            (c.name, pa.large_string() if c.name in text else ARROW_TYPES[c.sql_type])
            for c in TABLES[table].columns
        ]
    )


def write_table(df: pl.DataFrame, path: Path, table: str, fmt: str, noise: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.write_csv(
            path,
            include_header=True,
            date_format="%Y-%m-%d",
            datetime_format="%Y-%m-%d %H:%M:%S",
            line_terminator="\n",
        )
    else:
        pq.write_table(
            df.to_arrow().cast(_schema(table, noise)),
            path,
            compression="zstd",
            row_group_size=1 << 20,
        )


def relative_path(table: str, fmt: str, chunk: int, n_chunks: int) -> str:
    """One file per table for a single chunk; a folder of parts (one per chunk) otherwise."""
    if n_chunks == 1:
        return f"{table}.{fmt}"
    return f"{table}/part-{chunk:05d}.{fmt}"


def _run_chunk(job: tuple) -> tuple[dict[str, int], list[tuple]]:
    """Simulate and write one chunk (here or in a worker process); return row counts and faults."""
    (world, seed, chunk, first, size, start, end, noise, n_total, out, fmt, n_chunks) = job
    tables, faults = generate_chunk(world, seed, chunk, first, size, start, end, noise, n_total)
    counts = {}
    manifest = []
    for name, df in tables.items():
        rel = relative_path(name, fmt, chunk, n_chunks)
        write_table(df, Path(out) / rel, name, fmt, noise > 0)
        counts[name] = df.height
        manifest.extend(
            (name, rel, row + 1, col, fault) for row, col, fault in faults.get(name, [])
        )
    return counts, manifest


def _chunks(patients: int) -> list[tuple[int, int]]:
    return [(i // CHUNK, min(CHUNK, patients - i)) for i in range(0, patients, CHUNK)]


def _run(jobs: list[tuple], workers: int) -> Iterator[tuple[dict, list]]:
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            yield _run_chunk(job)
        return
    # spawn, not fork: forking a process that already runs polars' thread pool can deadlock.
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(_run_chunk, jobs)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generate(
    patients: int,
    seed: int,
    start: date,
    end: date,
    out: Path,
    fmt: str = "csv",
    noise: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> dict:
    """Write a synthetic population of ``patients`` people covering [start, end] into ``out``.

    Same arguments give the same bytes. ``end`` is the extract's as-of date. One chunk (up to
    ``CHUNK`` people) writes ``out/<table>.<fmt>``; more write ``out/<table>/part-NNNNN.<fmt>``.
    Returns a summary with row counts per table and the seconds taken.
    """
    t0 = time.perf_counter()
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    if not 0.0 <= noise < 1.0:
        raise ValueError("noise must be a fraction in [0, 1)")
    if end <= start:
        raise ValueError("end must be after start")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Clear what an earlier run left, so a smaller run does not inherit stale files or parts.
    for name in TABLES:
        for ext in FORMATS:
            (out / f"{name}.{ext}").unlink(missing_ok=True)
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    (out / "noise_manifest.csv").unlink(missing_ok=True)

    if workers is None:
        workers = min(2, os.cpu_count() or 1) if patients > 2 * CHUNK else 1
    world = build_world(seed, patients)
    chunks = _chunks(patients)
    jobs = [
        (world, seed, c, c * CHUNK, size, start, end, noise, patients, str(out), fmt, len(chunks))
        for c, size in chunks
    ]
    counts = {name: 0 for name in TABLES}
    manifest_rows: list[tuple] = []
    done = 0
    for (_chunk, size), (chunk_counts, faults) in zip(chunks, _run(jobs, workers), strict=True):
        for name, k in chunk_counts.items():
            counts[name] += k
        manifest_rows.extend(faults)
        done += size
        if progress is not None:
            progress(done, patients)

    if noise > 0:
        with open(out / "noise_manifest.csv", "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["table", "file", "row_number", "column", "fault"])
            w.writerows(sorted(manifest_rows, key=lambda r: (r[0], r[1], r[2], r[3])))

    files = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name != "generator_manifest.json"
    )
    manifest = {
        "generator": "popcare synthetic population",
        "generator_version": GENERATOR_VERSION,
        "arguments": {
            "patients": patients,
            "seed": seed,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "format": fmt,
            "noise": noise,
        },
        "row_counts": counts,
        "faults": len(manifest_rows),
        "sha256": {f: _sha256(out / f) for f in files},
    }
    (out / "generator_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {
        "patients": patients,
        "format": fmt,
        "row_counts": counts,
        "faults": len(manifest_rows),
        "seconds": round(time.perf_counter() - t0, 3),
        "out": str(out),
    }
