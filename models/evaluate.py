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
paired interval too. Seeded: the same inputs give the same intervals. Each score is sorted once and
a resample is evaluated as integer weights on the rows (``SortedScore``): O(n) per resample, the
same numbers as ``metric_set`` on the resampled rows (tests/test_risk_evaluate.py).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence

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


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product without BLAS (a threaded BLAS ddot is slow on small, busy machines)."""
    return float(np.einsum("i,i->", a, b))


def _fit_slope_weighted(
    y: np.ndarray, z: np.ndarray, weight: np.ndarray, iterations: int = 50
) -> tuple[float, float]:
    """``_fit_slope`` with row weights (a row of weight w counts as w copies); the same Newton
    steps from the same start, in preallocated buffers."""
    wz = weight * z
    wzz = wz * z
    sum_wy, sum_wyz = _dot(weight, y), _dot(wz, y)
    mu, v = np.empty_like(z), np.empty_like(z)
    a, b = 0.0, 1.0
    for _ in range(iterations):
        np.multiply(z, -b, out=mu)  # mu = 1 / (1 + exp(-(a + b z)))
        mu -= a
        np.exp(mu, out=mu)
        mu += 1
        np.reciprocal(mu, out=mu)
        np.subtract(1, mu, out=v)  # v = max(mu (1 - mu), 1e-12)
        v *= mu
        np.maximum(v, 1e-12, out=v)
        g0, g1 = sum_wy - _dot(weight, mu), sum_wyz - _dot(wz, mu)
        h00, h01, h11 = _dot(weight, v), _dot(wz, v), _dot(wzz, v)
        det = h00 * h11 - h01 * h01
        if det <= 0:
            return float("nan"), float("nan")
        da, db = (h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det
        a, b = a + da, b + db
        if max(abs(da), abs(db)) < 1e-10:
            break
    return float(a), float(b)


def _fit_offset_weighted(
    y: np.ndarray, z: np.ndarray, weight: np.ndarray, iterations: int = 50
) -> float:
    """``_fit_offset`` with row weights."""
    sum_wy = _dot(weight, y)
    mu, v = np.empty_like(z), np.empty_like(z)
    a = 0.0
    for _ in range(iterations):
        np.subtract(-a, z, out=mu)  # mu = 1 / (1 + exp(-(a + z)))
        np.exp(mu, out=mu)
        mu += 1
        np.reciprocal(mu, out=mu)
        np.subtract(1, mu, out=v)
        v *= mu
        step = (sum_wy - _dot(weight, mu)) / max(_dot(weight, v), 1e-12)
        a += step
        if abs(step) < 1e-10:
            break
    return float(a)


class SortedScore:
    """One score sorted once (highest first, ties by row order, as ``metric_set`` sorts), so every
    metric of a bootstrap resample is a weighted sum in that order: O(n) per resample, no sort.

    A resample ``idx`` is the original rows with integer weights ``np.bincount(idx, minlength=n)``.
    Rows with equal scores form one run (a "group"); per-group sums of weight and of weighted
    outcome give AUROC (ties counted half, as ``rankdata`` does), average precision (one step per
    distinct score), Brier, O/E and the calibration fits (one weighted item per group and label).
    Labels must be 0/1 and scores finite (``bootstrap`` checks).
    """

    def __init__(
        self, y: np.ndarray, p: np.ndarray, cutoffs: Mapping[float, float] | None = None
    ) -> None:
        y = np.asarray(y, dtype=float)
        p = np.asarray(p, dtype=float)
        self.y = y
        self.order = np.argsort(-p, kind="mergesort")
        self.y_sorted = y[self.order]
        p_sorted = p[self.order]
        self._new_run = np.r_[True, np.diff(p_sorted) != 0][: p.size]
        self.starts = np.flatnonzero(self._new_run)
        self.tied = self.starts.size < p.size
        self.p_group = p_sorted[self.starts]
        self.z_group = logit(self.p_group)
        self.squared_error = (p_sorted - self.y_sorted) ** 2
        self._group_of_row: np.ndarray | None = None
        # Fixed cut-offs: how many groups score at or above each one (groups are in score order).
        self.cut_groups = (
            None
            if cutoffs is None
            else {s: int(np.count_nonzero(self.p_group >= cutoffs[s])) for s in TOP_SHARES}
        )

    def group_of_row(self) -> np.ndarray:
        """The group (run of equal scores) of every original row."""
        if self._group_of_row is None:
            groups = np.empty(
                self.order.size, dtype=np.int32 if self.order.size < 2**31 else np.int64
            )
            groups[self.order] = np.cumsum(self._new_run) - 1
            self._group_of_row = groups
        return self._group_of_row

    def metrics(self, weights: np.ndarray, idx: np.ndarray | None = None) -> dict[str, float]:
        """``metric_set`` of the rows weighted by ``weights`` (one per original row; the bincount
        of a resample ``idx`` gives ``metric_set(y[idx], p[idx])``). ``idx`` is used only when
        tied rows with both labels straddle a top-share boundary: ``metric_set`` on the resample
        takes tied copies in their order in ``idx``; without ``idx`` they go in row order."""
        ws = np.asarray(weights, dtype=float)[self.order]
        wy = ws * self.y_sorted
        if self.tied:
            w_all = np.add.reduceat(ws, self.starts)
            w_pos = np.add.reduceat(wy, self.starts)
        else:
            w_all, w_pos = ws, wy
        w_neg = w_all - w_pos
        total = float(w_all.sum())
        positives = float(w_pos.sum())
        negatives = total - positives
        count = np.cumsum(w_all)  # weight at or above each group's score
        true_pos = np.cumsum(w_pos)
        out: dict[str, float] = {}
        # AUROC: a positive beats the negatives scored below it and half of those tied with it:
        # sum_g w_pos[g] (negatives - negatives at or above g + w_neg[g] / 2) / (positives negatives).
        if positives > 0 and negatives > 0:
            beaten = positives * negatives - _dot(w_pos, count - true_pos)
            if self.tied:
                beaten += 0.5 * _dot(w_pos, w_neg)
            out["auroc"] = beaten / (positives * negatives)
        else:
            out["auroc"] = float("nan")
        # Average precision: sum_g (recall step) x (precision at or above g); groups before the
        # first weighted row have no precision and no recall step.
        if positives > 0:
            first = int(np.searchsorted(count, 0.0, side="right"))
            precision = true_pos[first:] / count[first:]
            out["auprc"] = _dot(w_pos[first:], precision) / positives
        else:
            out["auprc"] = float("nan")
        out["brier"] = _dot(ws, self.squared_error) / total
        if positives in (0.0, total):
            slope = intercept = float("nan")
        else:
            # One weighted item per group and label present: (z, 1, w_pos) and (z, 0, w_neg).
            if self.tied:
                has_pos, has_neg = np.flatnonzero(w_pos > 0), np.flatnonzero(w_neg > 0)
                z = np.concatenate([self.z_group.take(has_pos), self.z_group.take(has_neg)])
                label = np.zeros(z.size)
                label[: has_pos.size] = 1.0
                w = np.concatenate([w_pos.take(has_pos), w_neg.take(has_neg)])
            else:
                kept = np.flatnonzero(ws > 0)
                z, label, w = self.z_group.take(kept), self.y_sorted.take(kept), ws.take(kept)
            slope = _fit_slope_weighted(label, z, w)[1]
            intercept = _fit_offset_weighted(label, z, w)
        out["calibration_slope"] = slope
        out["calibration_intercept"] = intercept
        expected = _dot(w_all, self.p_group)
        out["observed_expected"] = positives / expected if expected > 0 else float("nan")
        # The group of each resampled row, computed only if tied rows straddle a boundary.
        groups = functools.cache(lambda: self.group_of_row()[idx])
        for share in TOP_SHARES:
            if self.cut_groups is not None:
                g = self.cut_groups[share]
                selected = float(count[g - 1]) if g else 0.0
                hits = float(true_pos[g - 1]) if g else 0.0
            else:
                selected = float(min(total, max(1, math.ceil(share * total))))
                hits = self._top_hits(selected, ws, count, true_pos, w_all, w_pos, idx, groups)
            tag = f"top_{round(share * 100)}pct"
            out[f"precision_{tag}"] = hits / selected if selected else float("nan")
            out[f"recall_{tag}"] = hits / positives if positives else float("nan")
        return out

    def _top_hits(
        self,
        k: float,
        ws: np.ndarray,
        count: np.ndarray,
        true_pos: np.ndarray,
        w_all: np.ndarray,
        w_pos: np.ndarray,
        idx: np.ndarray | None,
        groups: Callable[[], np.ndarray],
    ) -> float:
        """Weighted positives among the first ``k`` weighted rows in score order."""
        g = int(np.searchsorted(count, k, side="left"))  # the group holding the k-th copy
        hits = float(true_pos[g - 1]) if g else 0.0
        take = k - (float(count[g - 1]) if g else 0.0)  # copies taken from group g: 1 .. w_all[g]
        if w_pos[g] == 0 or w_pos[g] == w_all[g] or take == w_all[g]:
            return hits + min(take, float(w_pos[g]))
        # Tied rows with both labels straddle the boundary (only possible with ties).
        if idx is not None:
            in_group = np.flatnonzero(groups() == g)[: int(take)]
            return hits + float(self.y[idx[in_group]].sum())
        start = self.starts[g]
        end = self.starts[g + 1] if g + 1 < self.starts.size else ws.size
        w_rows = ws[start:end]
        taken = np.clip(take - (np.cumsum(w_rows) - w_rows), 0.0, w_rows)
        return hits + _dot(taken, self.y_sorted[start:end])


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

    Each resample (``rng.integers(0, n, n)``) is evaluated as integer weights on the rows, each
    score sorted once (``SortedScore``): the same numbers as ``metric_set`` on the resampled rows,
    in O(n) per resample and score.

    Returns {"scores": {name: {metric: {"value", "low", "high"}}},
             "differences": {name: {metric: {"value", "low", "high"}}}, "resamples": n}.
    """
    y = np.asarray(y, dtype=float)
    names = list(scores)
    arrays = {name: np.asarray(scores[name], dtype=float) for name in names}
    point = {name: metric_set(y, arrays[name], cutoffs) for name in names}
    binary = bool(np.all((y == 0) | (y == 1)))
    sorted_scores = {
        name: SortedScore(y, arrays[name], cutoffs)
        for name in names
        if binary and np.all(np.isfinite(arrays[name]))
    }
    rng = np.random.default_rng(seed)
    draws: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    n = y.size
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        weights = np.bincount(idx, minlength=n).astype(float)
        positives = _dot(weights, y) if binary else y[idx].sum()
        if positives in (0, n):
            continue
        for name in names:
            if name in sorted_scores:
                draws[name].append(sorted_scores[name].metrics(weights, idx))
            else:  # labels other than 0/1 or non-finite scores: metric_set on the resampled rows
                draws[name].append(metric_set(y[idx], arrays[name][idx], cutoffs))

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
    tier_code = np.zeros(len(p), dtype=np.int64)  # index into TIERS, for counts by bincount
    for code, tier in enumerate(TIERS):
        tier_code[tiers == tier] = code
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
                    tier: float(count / n) if n else float("nan")
                    for tier, count in zip(
                        TIERS, np.bincount(tier_code[mask], minlength=len(TIERS)), strict=True
                    )
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
