"""Bootstrap by weights: every weighted metric equals ``metric_set`` on the resampled rows, and
``bootstrap`` gives the same intervals as the index-resampling algorithm it replaced."""

import math

import numpy as np
import polars as pl
import pytest

from models import evaluate
from models.evaluate import METRICS, SortedScore, metric_set

CALIBRATION = ("calibration_slope", "calibration_intercept")


def reference_bootstrap(y, scores, *, reference=None, resamples=200, seed=0, cutoffs=None):
    """The previous algorithm: ``metric_set`` on every index resample (a sort per resample)."""
    y = np.asarray(y, dtype=float)
    names = list(scores)
    point = {name: metric_set(y, scores[name], cutoffs) for name in names}
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in names}
    n = y.size
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.sum() in (0, n):
            continue
        for name in names:
            draws[name].append(metric_set(yb, np.asarray(scores[name])[idx], cutoffs))

    def interval(values, value):
        values = values[np.isfinite(values)]
        if values.size == 0:
            return {"value": value, "low": float("nan"), "high": float("nan")}
        low, high = np.percentile(values, [2.5, 97.5])
        return {"value": value, "low": float(low), "high": float(high)}

    result = {"scores": {}, "differences": {}, "resamples": len(draws[names[0]])}
    for name in names:
        result["scores"][name] = {
            m: interval(np.array([d[m] for d in draws[name]]), point[name][m]) for m in METRICS
        }
    if reference is not None:
        for name in names:
            if name != reference:
                result["differences"][name] = {
                    m: interval(
                        np.array(
                            [
                                a[m] - b[m]
                                for a, b in zip(draws[reference], draws[name], strict=True)
                            ]
                        ),
                        point[reference][m] - point[name][m],
                    )
                    for m in METRICS
                }
    return result


def assert_metrics_equal(got: dict, want: dict, where: str = "") -> None:
    assert list(got) == list(want)
    for m, expected in want.items():
        value = got[m]
        if math.isnan(expected):
            assert math.isnan(value), (where, m, value)
            continue
        # The calibration fits are Newton iterations stopped at a 1e-10 step.
        tolerance = 1e-6 * max(1.0, abs(expected)) if m in CALIBRATION else 1e-9
        assert abs(value - expected) <= tolerance, (where, m, value, expected)


def population(n: int, seed: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and an informative score: continuous, rounded (many ties) or a few values only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.2 + 1.5 * x)))).astype(float)
    p = 1 / (1 + np.exp(-(-1.2 + 1.2 * x + 0.5 * rng.normal(size=n))))
    if kind == "rounded":
        p = np.round(p, 2)
    elif kind == "few":
        p = np.round(p * 4) / 4  # 0, .25, .5, .75, 1: clipped logits at 0 and 1
    return y, p


KINDS = ("continuous", "rounded", "few")


@pytest.mark.parametrize("n", [50, 500])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_cutoffs", [False, True])
def test_weighted_metrics_equal_metric_set_on_the_resampled_rows(n, kind, with_cutoffs):
    for seed in range(4):
        y, p = population(n, seed, kind)
        cutoffs = evaluate.list_cutoffs(p) if with_cutoffs else None
        sorted_score = SortedScore(y, p, cutoffs)
        # Point estimates (weight 1 everywhere) are metric_set itself.
        assert_metrics_equal(sorted_score.metrics(np.ones(n)), metric_set(y, p, cutoffs))
        rng = np.random.default_rng(100 + seed)
        for draw in range(25):
            idx = rng.integers(0, n, n)
            if y[idx].sum() in (0, n):
                continue
            weights = np.bincount(idx, minlength=n)
            want = metric_set(y[idx], p[idx], cutoffs)
            assert_metrics_equal(sorted_score.metrics(weights, idx), want, f"{seed}/{draw}")


def test_ties_at_a_list_boundary_follow_the_resample_order():
    """Tied copies straddling a top-share boundary: metric_set on the resample takes them in
    their order in idx (so idx decides between tied rows of different labels); weights alone take
    them in row order, which is metric_set on the same rows with idx sorted."""
    n = 200
    top = np.arange(n) < 40  # 40 tied rows of both labels at the 20% cut
    y = np.where(top, np.arange(n) % 2, np.arange(n) % 8 == 0).astype(float)
    p = np.where(top, 0.6, 0.1)
    sorted_score = SortedScore(y, p)
    rng = np.random.default_rng(7)
    differs = 0
    for _ in range(50):
        idx = rng.integers(0, n, n)
        weights = np.bincount(idx, minlength=n)
        want = metric_set(y[idx], p[idx])
        assert_metrics_equal(sorted_score.metrics(weights, idx), want)
        row_order = sorted_score.metrics(weights)
        assert_metrics_equal(row_order, metric_set(y[np.sort(idx)], p[np.sort(idx)]))
        differs += row_order["precision_top_20pct"] != want["precision_top_20pct"]
    assert differs > 0  # idx really is needed for these ties


def assert_bootstraps_equal(got: dict, want: dict) -> None:
    assert got["resamples"] == want["resamples"]
    for part in ("scores", "differences"):
        assert list(got[part]) == list(want[part])
        for name in want[part]:
            for field in ("value", "low", "high"):
                assert_metrics_equal(
                    {m: got[part][name][m][field] for m in METRICS},
                    {m: want[part][name][m][field] for m in METRICS},
                    f"{part}/{name}/{field}",
                )
    # Point estimates are computed exactly as before.
    for name, metrics in want["scores"].items():
        for m, entry in metrics.items():
            value = got["scores"][name][m]["value"]
            assert value == entry["value"] or (math.isnan(value) and math.isnan(entry["value"]))


@pytest.mark.parametrize("n", [50, 500])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bootstrap_equals_the_index_resampling_algorithm(n, seed):
    y, model = population(n, seed, "continuous")
    _, rounded = population(n, seed + 10, "rounded")
    _, few = population(n, seed + 20, "few")
    scores = {"model": model, "rounded": rounded, "few": few}
    for cutoffs in (None, evaluate.list_cutoffs(model)):
        got = evaluate.bootstrap(
            y, scores, reference="model", resamples=60, seed=seed, cutoffs=cutoffs
        )
        want = reference_bootstrap(
            y, scores, reference="model", resamples=60, seed=seed, cutoffs=cutoffs
        )
        assert_bootstraps_equal(got, want)


def test_bootstrap_falls_back_for_labels_or_scores_it_cannot_weight():
    y, p = population(300, 5, "continuous")
    with_nan = p.copy()
    with_nan[3] = np.nan
    scores = {"model": p, "broken": with_nan}
    assert_bootstraps_equal(
        evaluate.bootstrap(y, scores, reference="model", resamples=20, seed=3),
        reference_bootstrap(y, scores, reference="model", resamples=20, seed=3),
    )
    soft = np.where(y == 1, 0.9, 0.0)  # non-binary labels: metric_set on the resampled rows
    assert_bootstraps_equal(
        evaluate.bootstrap(soft, {"model": p}, resamples=20, seed=3),
        reference_bootstrap(soft, {"model": p}, resamples=20, seed=3),
    )
    assert evaluate.bootstrap(y, {"model": p}, resamples=0)["resamples"] == 0


def test_subgroup_audit_rates_and_intervals():
    n = 1200
    y, p = population(n, 9, "rounded")
    rng = np.random.default_rng(9)
    frame = pl.DataFrame(
        {
            "score": p,
            "label": y,
            "sex": rng.choice(["female", "male"], n),
            "payer_type": rng.choice(["commercial", "medicare", None], n),
        }
    )
    audit = evaluate.subgroup_audit(frame, resamples=30, seed=4)
    tiers = evaluate.assign_tiers(p)
    cutoffs = evaluate.list_cutoffs(p)
    for attribute in ("sex", "payer_type"):
        values = frame[attribute].fill_null("unknown").to_numpy()
        for value, entry in audit["attributes"][attribute].items():
            mask = values == value
            assert entry["selection_rate"] == {
                tier: float(np.mean(tiers[mask] == tier)) for tier in evaluate.TIERS
            }
            want = reference_bootstrap(
                y[mask], {"model": p[mask]}, resamples=30, seed=4, cutoffs=cutoffs
            )["scores"]["model"]
            for field in ("value", "low", "high"):
                assert_metrics_equal(
                    {m: entry["metrics"][m][field] for m in METRICS},
                    {m: want[m][field] for m in METRICS},
                )
