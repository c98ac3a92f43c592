"""Benchmark the synthetic population generator.

    python -m bench.bench_generate --patients 1000000 --format parquet --out /tmp/gen-1m

Prints one JSON object: seconds, patients per second, peak resident memory (this process and its
worker processes, from resource.getrusage), rows per table and output bytes. docs/benchmarks.md
records the figures at 10k, 100k and 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import threading
import time
from datetime import date
from pathlib import Path

from pipelines.synthetic import generate


def _peak_mib() -> dict[str, float]:
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN reports the largest finished child.
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mib_main": round(own, 1), "peak_rss_mib_worker": round(children, 1)}


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _tree_rss_mib(root: int) -> float:
    """Resident memory of a process and its children (the worker processes), from /proc."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            if int(entry) != root and ppid != root:
                continue
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


class _PeakSampler(threading.Thread):
    """Samples the whole process tree's resident memory twice a second; keeps the maximum."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _tree_rss_mib(me))
            self._stop_event.wait(0.5)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=20260930)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2023, 10, 1))
    ap.add_argument("--end", type=date.fromisoformat, default=date(2026, 9, 30))
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)

    sampler = _PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    summary = generate(
        patients=args.patients,
        seed=args.seed,
        start=args.start,
        end=args.end,
        out=args.out,
        fmt=args.format,
        noise=args.noise,
        workers=args.workers,
    )
    seconds = time.perf_counter() - t0
    tree_peak = sampler.stop()
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    result = {
        "patients": args.patients,
        "format": args.format,
        "seconds": round(seconds, 2),
        "patients_per_second": round(args.patients / seconds, 1),
        # CPU time of this process and its workers: less sensitive than wall time to other load.
        "cpu_seconds": round(_cpu_seconds(), 1),
        "peak_rss_mib_process_tree": round(tree_peak, 1),
        **_peak_mib(),
        "rows": summary["row_counts"],
        "total_rows": sum(summary["row_counts"].values()),
        "output_bytes": size,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
