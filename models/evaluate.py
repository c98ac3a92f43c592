"""Validation metrics with bootstrap intervals, baselines compared pairwise, and the subgroup audit.

Metrics (Van Calster et al., BMC Med 2019, for the calibration measures):

- AUROC (Mann-Whitney, ties counted half) and AUPRC (average precision, step-wise, as
  scikit-learn computes it; a test checks both against scikit-learn);
- Brier score; observed/expected = sum of outcomes / sum of predicted probabilities;
- calibration slope b and intercept a: logistic regression of the outcome on logit(score),
  ``logit P(y) = a0 + b logit(p)`` for the slope, and ``logit P(y) = a + logit(p)`` (slope fixed
  at 1, "calibration in the large") for the intercept. Perfect: b = 1, a = 0;
- precision and recall in the top 1%, 5% and 20% by score (ties broken by row order, so a list of
  exactly that many people).

Intervals: percentile bootstrap over rows (one row per person in a validation set scored on one
date), the same resamples for every score, so differences between the model and a baseline get a
paired interval too. Seeded: the same inputs give the same intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy.stats import rankdata

TOP_SHARES = (0.01, 0.05, 0.20)
METRICS = (
    "auroc",
    "auprc",
    "brier",
    "calibration_slope",
    "calibration_intercept",
    "observed_expected",
    *(f"precision_top_{round(s * 100)}pct" for s in TOP_SHARES),
    *(f"recall_top_{round(s * 100)}pct" for s in TOP_SHARES),
)
_EPS = 1e-6


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)


def logit(p: np.ndarray) -> np.ndarray:
    q = _clip(p)
    return np.log(q / (1 - q))


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    y = np.asarray(y, dtype=bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def average_precision(y: np.ndarray, p: np.ndarray, order: np.ndarray | None = None) -> float:
    y = np.asarray(y, dtype=float)
    if y.sum() == 0:
        return float("nan")
    if order is None:
        order = np.argsort(-np.asarray(p, dtype=float), kind="mergesort")
    y_sorted = y[order]
    p_sorted = np.asarray(p, dtype=float)[order]
    distinct = np.where(np.diff(p_sorted))[0]
    threshold_idx = np.r_[distinct, y_sorted.size - 1]
    tps = np.cumsum(y_sorted)[threshold_idx]
    fps = 1 + threshold_idx - tps
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def observed_expected(y: np.ndarray, p: np.ndarray) -> float:
    expected = float(np.sum(p))
    return float(np.sum(y)) / expected if expected > 0 else float("nan")


def _newton_logistic(
    y: np.ndarray, x: np.ndarray | None, offset: np.ndarray, iterations: int = 25
) -> np.ndarray:
    """Maximum-likelihood logistic regression of y on [1, x] (or [1]) with an offset."""
    design = np.ones((y.size, 1)) if x is None else np.column_stack([np.ones(y.size), x])
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        eta = offset + design @ beta
        mu = 1 / (1 + np.exp(-eta))
        w = np.maximum(mu * (1 - mu), 1e-12)
        gradient = design.T @ (y - mu)
        hessian = design.T @ (design * w[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return np.full(design.shape[1], np.nan)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta


def _fit_slope(y: np.ndarray, z: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) of logit P(y) = a + b z by Newton's method on scalar sums, started at (0, 1)."""
    a, b = 0.0, 1.0
    for _ in range(iterations):
        mu = 1 / (1 + np.exp(-(a + b * z)))
        w = np.maximum(mu * (1 - mu), 1e-12)
        r = y - mu
        g0, g1 = r.sum(), (r * z).sum()
        h00, h01, h11 = w.sum(), (w * z).sum(), (w * z * z).sum()
        det = h00 * h11 - h01 * h01
        if det <= 0:
            return float("nan"), float("nan")
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        a, b = a + da, b + db
        if max(abs(da), abs(db)) < 1e-10:
            break
    return float(a), float(b)


def _fit_offset(y: np.ndarray, z: np.ndarray, iterations: int = 50) -> float:
    """a of logit P(y) = a + z (slope fixed at 1)."""
    a = 0.0
    for _ in range(iterations):
        mu = 1 / (1 + np.exp(-(a + z)))
        step = (y - mu).sum() / max(float((mu * (1 - mu)).sum()), 1e-12)
        a += step
        if abs(step) < 1e-10:
            break
    return float(a)


def calibration_slope_intercept(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    y = np.asarray(y, dtype=float)
    if y.sum() in (0, y.size):
        return float("nan"), float("nan")
    z = logit(p)
    return _fit_slope(y, z)[1], _fit_offset(y, z)


def top_k_mask(p: np.ndarray, share: float, order: np.ndarray | None = None) -> np.ndarray:
    """The top ``share`` of rows by score: exactly ceil(share * n) rows, ties by row order."""
    n = len(p)
    k = min(n, max(1, math.ceil(share * n)))
    if order is None:
        order = np.argsort(-np.asarray(p, dtype=float), kind="mergesort")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def metric_set(
    y: np.ndarray, p: np.ndarray, cutoffs: Mapping[float, float] | None = None
) -> dict[str, float]:
    """Every metric for one score. ``cutoffs`` (share -> score threshold) makes precision/recall
    use fixed thresholds (the whole population's list cut-offs, for subgroups) instead of the
    top share of these rows."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="mergesort")
    slope, intercept = calibration_slope_intercept(y, p)
    out = {
        "auroc": auroc(y, p),
        "auprc": average_precision(y, p, order),
        "brier": brier(y, p),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "observed_expected": observed_expected(y, p),
    }
    positives = y.sum()
    for share in TOP_SHARES:
        mask = p >= cutoffs[share] if cutoffs is not None else top_k_mask(p, share, order)
        tag = f"top_{round(share * 100)}pct"
        selected = mask.sum()
        out[f"precision_{tag}"] = float(y[mask].mean()) if selected else float("nan")
        out[f"recall_{tag}"] = float(y[mask].sum() / positives) if positives else float("nan")
    return out


def list_cutoffs(p: np.ndarray, shares: Sequence[float] = TOP_SHARES) -> dict[float, float]:
    """The score of the last person on each top-share list."""
    out = {}
    for share in shares:
        mask = top_k_mask(p, share)
        out[share] = float(np.min(np.asarray(p)[mask]))
    return out


def bootstrap(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    reference: str | None = None,
    resamples: int = 200,
    seed: int = 0,
    cutoffs: Mapping[float, float] | None = None,
) -> dict:
    """Point estimates and percentile 95% intervals of every metric for every score, from the same
    resamples; with ``reference``, paired intervals of (reference - other) for every other score.

    Returns {"scores": {name: {metric: {"value", "low", "high"}}},
             "differences": {name: {metric: {"value", "low", "high"}}}, "resamples": n}.
    """
    y = np.asarray(y, dtype=float)
    names = list(scores)
    point = {name: metric_set(y, scores[name], cutoffs) for name in names}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    n = y.size
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.sum() in (0, n):
            continue
        for name in names:
            draws[name].append(metric_set(yb, np.asarray(scores[name])[idx], cutoffs))

    def interval(values: np.ndarray, value: float) -> dict[str, float]:
        values = values[np.isfinite(values)]
        if values.size == 0:
            return {"value": value, "low": float("nan"), "high": float("nan")}
        low, high = np.percentile(values, [2.5, 97.5])
        return {"value": value, "low": float(low), "high": float(high)}

    result: dict = {"scores": {}, "differences": {}, "resamples": len(draws[names[0]])}
    for name in names:
        result["scores"][name] = {
            m: interval(np.array([d[m] for d in draws[name]]), point[name][m]) for m in METRICS
        }
    if reference is not None:
        for name in names:
            if name == reference:
                continue
            result["differences"][name] = {
                m: interval(
                    np.array(
                        [a[m] - b[m] for a, b in zip(draws[reference], draws[name], strict=True)]
                    ),
                    point[reference][m] - point[name][m],
                )
                for m in METRICS
            }
    return result


# --- subgroup audit -------------------------------------------------------------------------------

AUDIT_ATTRIBUTES = ("sex", "age_band", "race", "ethnicity", "payer_type")
TIERS = ("complex", "high", "rising", "low")


def assign_tiers(p: np.ndarray, cutoffs: Sequence[float] = (0.01, 0.05, 0.20)) -> np.ndarray:
    """Tier by position in the ranking (highest score first, ties by row order): the top
    ``cutoffs[0]`` complex, up to ``cutoffs[1]`` high, up to ``cutoffs[2]`` rising, the rest low."""
    n = len(p)
    order = np.argsort(-np.asarray(p, dtype=float), kind="mergesort")
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(1, n + 1)
    tiers = np.full(n, "low", dtype=object)
    bounds = [math.ceil(c * n) for c in cutoffs]
    tiers[position <= bounds[2]] = "rising"
    tiers[position <= bounds[1]] = "high"
    tiers[position <= bounds[0]] = "complex"
    return tiers


def subgroup_audit(
    frame: pl.DataFrame,
    score_column: str = "score",
    label_column: str = "label",
    *,
    attributes: Sequence[str] = AUDIT_ATTRIBUTES,
    tier_cutoffs: Sequence[float] = (0.01, 0.05, 0.20),
    resamples: int = 100,
    seed: int = 0,
    min_rows: int = 100,
    min_positives: int = 10,
) -> dict:
    """Per attribute and group: size, prevalence, the metrics (with intervals when the group has at
    least ``min_rows`` rows and ``min_positives`` positives; precision/recall at the whole
    population's list cut-offs), the selection rate into each tier, and the Obermeyer check: mean
    chronic-condition count (at the scoring date and realised in the horizon) by score decile.

    Group values are attribute categories (never identifiers); counts only.
    """
    p = frame[score_column].to_numpy().astype(float)
    y = frame[label_column].to_numpy().astype(float)
    cutoffs = list_cutoffs(p)
    tiers = assign_tiers(p, tier_cutoffs)
    decile = np.minimum((rankdata(p, method="ordinal") - 1) * 10 // len(p), 9).astype(int) + 1
    work = frame.with_columns(pl.Series("_tier", tiers.astype(str)), pl.Series("_decile", decile))
    audit: dict = {"attributes": {}, "tier_cutoffs": list(tier_cutoffs)}
    for attribute in attributes:
        if attribute not in frame.columns:
            continue
        groups: dict = {}
        values = work[attribute].fill_null("unknown").cast(pl.Utf8)
        for value in sorted(values.unique().to_list()):
            mask = (values == value).to_numpy()
            n = int(mask.sum())
            positives = int(y[mask].sum())
            entry: dict = {
                "rows": n,
                "positives": positives,
                "prevalence": positives / n if n else float("nan"),
                "mean_score": float(p[mask].mean()) if n else float("nan"),
                "selection_rate": {
                    tier: float(np.mean(tiers[mask] == tier)) if n else float("nan")
                    for tier in TIERS
                },
            }
            if n >= min_rows and min_positives <= positives < n:
                boot = bootstrap(
                    y[mask], {"model": p[mask]}, resamples=resamples, seed=seed, cutoffs=cutoffs
                )
                entry["metrics"] = boot["scores"]["model"]
            else:
                entry["metrics"] = None
            groups[value] = entry
        audit["attributes"][attribute] = groups
    # Obermeyer et al.: at the same score, are some groups sicker? Mean chronic conditions by decile.
    need_columns = [
        c for c in ("chronic_condition_count", "realised_condition_count") if c in frame.columns
    ]
    by_decile: dict = {}
    for attribute in attributes:
        if attribute not in frame.columns or not need_columns:
            continue
        table = (
            work.with_columns(pl.col(attribute).fill_null("unknown").cast(pl.Utf8))
            .group_by("_decile", attribute)
            .agg(
                pl.len().alias("rows"),
                *[pl.col(c).mean().alias(c) for c in need_columns],
            )
            .sort("_decile", attribute)
        )
        by_decile[attribute] = [
            {"decile": int(row["_decile"]), "group": row[attribute], "rows": int(row["rows"])}
            | {c: float(row[c]) for c in need_columns}
            for row in table.iter_rows(named=True)
        ]
    audit["condition_count_by_decile"] = by_decile
    return audit


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted and observed rate in ``bins`` equal-size groups by score (for the plot)."""
    order = np.argsort(np.asarray(p, dtype=float), kind="mergesort")
    out = []
    for chunk in np.array_split(order, bins):
        if chunk.size:
            out.append(
                {
                    "predicted": float(np.mean(np.asarray(p)[chunk])),
                    "observed": float(np.mean(np.asarray(y)[chunk])),
                    "rows": int(chunk.size),
                }
            )
    return out
