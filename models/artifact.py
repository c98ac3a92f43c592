"""The trained risk model as one object: estimator, calibration, feature schema and what explains it.

A ``RiskModel`` is what ``models/registry.py`` stores as ``model.joblib``. It knows its feature
schema (names and types in input order) and refuses frames that do not match it
(``SchemaMismatchError``): a model trained on other inputs must never score silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.isotonic import IsotonicRegression

from models.labels import LabelSpec

_EPS = 1e-6


class SchemaMismatchError(ValueError):
    """The features offered to a model are not the ones it was trained on."""


def compare_schema(expected: list[list[str]], actual: list[list[str]]) -> list[str]:
    """Human-readable differences between two feature schemas ([[name, dtype], ...]); empty when
    they match exactly (same names, same order, same types)."""
    problems = []
    expected_names = [name for name, _ in expected]
    actual_names = [name for name, _ in actual]
    missing = [n for n in expected_names if n not in actual_names]
    extra = [n for n in actual_names if n not in expected_names]
    if missing:
        problems.append(f"missing features: {', '.join(missing)}")
    if extra:
        problems.append(f"features the model does not know: {', '.join(extra)}")
    types = dict(map(tuple, actual))
    changed = [f"{n} ({t} -> {types[n]})" for n, t in expected if n in types and types[n] != t]
    if changed:
        problems.append(f"features of another type: {', '.join(changed)}")
    if not problems and expected_names != actual_names:
        problems.append("features in another order")
    return problems


def frame_schema(frame: pl.DataFrame, names: list[str] | tuple[str, ...]) -> list[list[str]]:
    """The schema of ``names`` as offered by ``frame`` (absent names are simply not listed)."""
    return [[name, str(frame.schema[name])] for name in names if name in frame.columns]


@dataclass
class Calibrator:
    """Platt scaling (a logistic on the raw log-odds) or isotonic regression on the raw
    probability, fitted on a held-out fold."""

    method: str
    slope: float = 1.0
    intercept: float = 0.0
    isotonic: IsotonicRegression | None = None

    def __call__(self, raw_logit: np.ndarray) -> np.ndarray:
        raw_logit = np.asarray(raw_logit, dtype=float)
        if self.method == "isotonic" and self.isotonic is not None:
            prob = 1 / (1 + np.exp(-raw_logit))
            return np.clip(self.isotonic.predict(prob), _EPS, 1 - _EPS)
        return 1 / (1 + np.exp(-(self.intercept + self.slope * raw_logit)))


@dataclass
class RiskModel:
    """A calibrated classifier over the feature schema, with what reasons need."""

    version: str
    label: LabelSpec
    feature_names: tuple[str, ...]
    feature_schema: list[list[str]]
    estimator: Any  # HistGradientBoostingClassifier (or any model with decision_function)
    calibrator: Calibrator
    reference_values: np.ndarray  # per feature: the typical value reasons compare against
    reason_groups: dict[str, list[int]]  # group -> feature indices
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "hist_gradient_boosting"

    def matrix(self, frame: pl.DataFrame, offered: list[str] | tuple[str, ...]) -> np.ndarray:
        """The model's input matrix from a feature frame whose feature columns are ``offered``
        (the current feature code's list), after the schema check."""
        self.check_schema(frame_schema(frame, offered))
        return frame.select(self.feature_names).to_numpy().astype(np.float64, copy=False)

    def check_schema(self, offered: list[list[str]]) -> None:
        """Refuse (SchemaMismatchError) unless ``offered`` equals the training schema exactly."""
        problems = compare_schema(self.feature_schema, offered)
        if problems:
            raise SchemaMismatchError(
                f"model {self.version} refuses these features: {'; '.join(problems)}. "
                "Retrain (`popcare train`) so the model matches the current feature code."
            )

    def raw_logit(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.estimator.decision_function(x), dtype=float).reshape(-1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the label."""
        return self.calibrator(self.raw_logit(x))

    def score_frame(self, frame: pl.DataFrame, offered: list[str] | tuple[str, ...]) -> np.ndarray:
        return self.predict(self.matrix(frame, offered))
