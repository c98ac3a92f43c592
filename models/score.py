"""Nightly scoring: marts.risk_features -> marts.risk_scores with the newest registered model.

``marts.risk_scores`` (one row per person scored on the as-of date): person_id, scoring_date,
model_version, score, percentile, tier, reason_1, reason_2, reason_3.

- **score**: the model's calibrated probability of the label.
- **percentile**: 100 x (n - position + 1) / n, position 1 = highest score (ties broken by
  person_id, so the order is deterministic); the highest-ranked person has 100.
- **tier** by position: complex = top 1%, high = the next 4%, rising = the next 15%, low = the
  rest (cumulative cut-offs 0.01 / 0.05 / 0.20, configurable: ``POPCARE_RISK_TIERS`` =
  "0.01,0.05,0.20").
- **reasons**: models/explain.py (group baseline substitution on the model itself).

A model whose feature schema differs from the current feature code is refused
(``SchemaMismatchError``), never used. When the warehouse has no registered model (a population too
small or a history too short to train, ``models.train.TrainingDataError``), scoring falls back to
the documented baseline, ``model_version = 'baseline-fallback'``:

    baseline index = CMS-HCC V28 raw score + acute admissions + ED visits + observation stays
                     in the last 12 months

ranked the same way; ``score`` is then the index's rank scaled to (0, 1] (percentile / 100), **not
a probability**, and the reasons are the index's components above the population median.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from models import explain
from models.artifact import RiskModel
from models.evaluate import assign_tiers
from models.features import FEATURE_NAMES, query_frame, table_exists
from models.labels import DEFAULT_LABEL
from models.registry import newest_model

FALLBACK_VERSION = "baseline-fallback"
DEFAULT_TIERS = (0.01, 0.05, 0.20)
ENV_TIERS = "POPCARE_RISK_TIERS"
ENV_THREADS = "POPCARE_RISK_THREADS"
SCORE_COLUMNS = (
    "person_id",
    "scoring_date",
    "model_version",
    "score",
    "percentile",
    "tier",
    "reason_1",
    "reason_2",
    "reason_3",
)
# The fallback index's components and the reason group each is rendered by.
FALLBACK_COMPONENTS = (
    ("hcc_raw_v28", "chronic_burden"),
    ("ip_admits_12m", "inpatient_use"),
    ("ed_visits_12m", "ed_use"),
    ("obs_stays_12m", "observation_use"),
)


def tier_cutoffs(environ: Mapping[str, str] | None = None) -> tuple[float, float, float]:
    """Cumulative tier cut-offs from ``POPCARE_RISK_TIERS`` ("0.01,0.05,0.20" by default)."""
    env = os.environ if environ is None else environ
    text = (env.get(ENV_TIERS) or "").strip()
    if not text:
        return DEFAULT_TIERS
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise ValueError(f"{ENV_TIERS}={text!r}: three comma-separated shares expected") from exc
    if len(values) != 3 or not 0 < values[0] <= values[1] <= values[2] <= 1:
        raise ValueError(
            f"{ENV_TIERS}={text!r}: three increasing shares in (0, 1] expected, e.g. 0.01,0.05,0.20"
        )
    return values  # type: ignore[return-value]


def rank_columns(
    score: np.ndarray, person_ids: Sequence[str], cutoffs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile and tier for each row; ties broken by person_id."""
    n = len(score)
    if n == 0:
        return np.array([], dtype=float), np.array([], dtype=object)
    # Sort by person_id first, then stably by descending score: equal scores keep id order.
    by_id = np.argsort(np.asarray(person_ids, dtype=object), kind="stable")
    order = by_id[np.argsort(-score[by_id], kind="stable")]
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(1, n + 1)
    percentile = np.round(100.0 * (n - position + 1) / n, 2)
    ordered_score = np.empty(n)
    ordered_score[order] = np.arange(n, 0, -1)  # strictly decreasing along the tie-broken order
    tiers = assign_tiers(ordered_score, cutoffs)
    return percentile, tiers


def _score_frame(
    features: pl.DataFrame,
    version: str,
    score: np.ndarray,
    reasons: list[list[str | None]],
    cutoffs: Sequence[float],
) -> pl.DataFrame:
    person_ids = features["person_id"].to_list()
    percentile, tiers = rank_columns(score, person_ids, cutoffs)
    return pl.DataFrame(
        {
            "person_id": person_ids,
            "scoring_date": features["scoring_date"],
            "model_version": [version] * features.height,
            "score": score.astype(float),
            "percentile": percentile,
            "tier": [str(t) for t in tiers],
            "reason_1": [r[0] for r in reasons],
            "reason_2": [r[1] for r in reasons],
            "reason_3": [r[2] for r in reasons],
        },
        schema={
            "person_id": pl.Utf8,
            "scoring_date": pl.Date,
            "model_version": pl.Utf8,
            "score": pl.Float64,
            "percentile": pl.Float64,
            "tier": pl.Utf8,
            "reason_1": pl.Utf8,
            "reason_2": pl.Utf8,
            "reason_3": pl.Utf8,
        },
    )


def _busy_cores(interval: float = 0.5) -> float | None:
    """Cores other processes keep busy, from two readings of /proc/stat ``interval`` apart
    (None where there is no /proc/stat). Taken when scoring starts, while this process waits."""

    def reading() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return values[3] + values[4], sum(values)  # idle + iowait, total

    try:
        idle0, total0 = reading()
        time.sleep(interval)
        idle1, total1 = reading()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (1 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def scoring_threads(
    environ: Mapping[str, str] | None = None,
    cores: int | None = None,
    busy: float | None = None,
) -> int:
    """OpenMP threads for prediction and reasons: ``POPCARE_RISK_THREADS`` when set, else the
    cores idle when scoring starts (cores minus the cores other processes keep busy, rounded; at
    least 1; the 1-minute load average where /proc/stat is missing).

    Idle cores only: on a shared 2-core machine two spinning OpenMP threads made a fit 5-20x
    slower than one (see TrainConfig), while on a quiet one two threads score 100k patients in
    20.3 s instead of 35.3 s (docs/benchmarks.md)."""
    env = os.environ if environ is None else environ
    if (env.get(ENV_THREADS) or "").strip():
        return max(1, int(env[ENV_THREADS].strip()))
    cores = cores if cores is not None else (os.cpu_count() or 1)
    if busy is None:
        busy = _busy_cores()
    if busy is None:
        busy = os.getloadavg()[0]
    return max(1, min(cores, round(cores - busy)))


def score_with_model(
    features: pl.DataFrame, model: RiskModel, cutoffs: Sequence[float] = DEFAULT_TIERS
) -> pl.DataFrame:
    """Scores, ranks and reasons from a registered model (refuses a schema mismatch)."""
    x = model.matrix(features, FEATURE_NAMES)
    with threadpool_limits(limits=scoring_threads(), user_api="openmp"):
        score = model.predict(x)
        reasons, _ = explain.explain(
            model.raw_logit, x, features, model.reference_values, model.reason_groups
        )
    return _score_frame(features, model.version, score, reasons, cutoffs)


def fallback_index(features: pl.DataFrame) -> np.ndarray:
    total = np.zeros(features.height)
    for column, _ in FALLBACK_COMPONENTS:
        total += np.nan_to_num(features[column].to_numpy().astype(float))
    return total


def score_with_baseline(
    features: pl.DataFrame, cutoffs: Sequence[float] = DEFAULT_TIERS
) -> pl.DataFrame:
    """The documented fallback: HCC raw score + prior-year acute use, with its own reasons."""
    index = fallback_index(features)
    n = features.height
    components = (
        np.column_stack(
            [np.nan_to_num(features[c].to_numpy().astype(float)) for c, _ in FALLBACK_COMPONENTS]
        )
        if n
        else np.zeros((0, len(FALLBACK_COMPONENTS)))
    )
    excess = components - (np.median(components, axis=0) if n else 0)
    chosen = explain.top_groups(excess, [g for _, g in FALLBACK_COMPONENTS], top=3)
    reasons = explain.reason_texts(features, chosen)
    percentile, _ = rank_columns(index, features["person_id"].to_list(), cutoffs)
    frame = _score_frame(features, FALLBACK_VERSION, percentile / 100.0, reasons, cutoffs)
    return frame


def write_scores(con: duckdb.DuckDBPyConnection, scores: pl.DataFrame) -> None:
    con.execute("create schema if not exists marts")
    con.register("_risk_scores", scores.select(SCORE_COLUMNS).sort("person_id").to_arrow())
    con.execute("create or replace table marts.risk_scores as select * from _risk_scores")
    con.unregister("_risk_scores")


def score_summary(scores: pl.DataFrame) -> dict[str, int | float | str]:
    """Counts and distribution figures only (no identifiers): what the asset reports."""
    out: dict[str, int | float | str] = {"rows": scores.height}
    for tier in ("complex", "high", "rising", "low"):
        out[f"tier_{tier}"] = int((scores["tier"] == tier).sum())
    out["model_version"] = scores["model_version"][0] if scores.height else ""
    values = scores["score"].to_numpy()
    for q in (50, 80, 95, 99):
        out[f"score_p{q}"] = round(float(np.percentile(values, q)), 4) if scores.height else 0.0
    out["rows_with_reason"] = int(scores["reason_1"].is_not_null().sum())
    return out


def score_population(
    con: duckdb.DuckDBPyConnection,
    warehouse: str | Path,
    *,
    label: str = DEFAULT_LABEL,
    cutoffs: Sequence[float] | None = None,
) -> dict[str, int | float | str]:
    """Score marts.risk_features with the newest registered model for ``label`` (or the baseline
    when none is registered) into marts.risk_scores; returns summary numbers."""
    cutoffs = tuple(cutoffs or tier_cutoffs())
    if not table_exists(con, "marts", "risk_features"):
        raise RuntimeError(
            "marts.risk_features is not built: materialise marts/risk_features first"
        )
    features = query_frame(con, "select * from marts.risk_features order by person_id")
    found = newest_model(warehouse, label)
    if found is None:
        scores = score_with_baseline(features, cutoffs)
        reason = "no registered model for this warehouse"
    else:
        model, _ = found
        scores = score_with_model(features, model, cutoffs)
        reason = ""
    write_scores(con, scores)
    summary = score_summary(scores)
    summary["model_version"] = FALLBACK_VERSION if found is None else found[0].version
    if reason:
        summary["fallback_reason"] = reason
    return summary


def score_discharges(
    con: duckdb.DuckDBPyConnection,
    warehouse: str | Path,
    as_of: date,
    *,
    days: int = 30,
    schema: str = "risk_discharge",
) -> pl.DataFrame:
    """The 30-day readmission configuration: score the acute discharges of the last ``days`` days
    with the newest ``readmission_30d`` model (a frame; nothing is written). Raises LookupError
    when no such model is registered."""
    from datetime import timedelta

    from models.features import build_feature_tables, drop_schema, read_features

    found = newest_model(warehouse, "readmission_30d")
    if found is None:
        raise LookupError("no readmission_30d model is registered for this warehouse")
    window = (as_of - timedelta(days=days - 1), as_of)
    try:
        build_feature_tables(con, schema, discharge_window=window, horizon_days=30)
        features = read_features(con, schema)
    finally:
        drop_schema(con, schema)
    return score_with_model(features, found[0], DEFAULT_TIERS)
