"""Why a patient ranks high: per-patient attributions and plain-language reasons.

Method: **group baseline substitution** on the model that produced the score. For each reason
group (the features that describe one thing: ED use, the last HbA1c, social needs, ...), the
group's features are set to the reference patient's values (per feature, the training median; a
feature missing for most training rows has a missing reference, with its missing-indicator at 1)
and the model is asked again. The attribution of the group is the drop in the model's log-odds:

    attribution(group) = raw_logit(x) - raw_logit(x with the group at the reference)

It is faithful by construction (it is the model's own answer, not a surrogate's), exact for the
calibrated score's ordering (calibration is monotone, so ranking groups by the drop in log-odds
ranks them by the drop in calibrated probability too), and needs no package beyond scikit-learn
(``shap`` is not installed; TreeSHAP is not built into scikit-learn's histogram gradient boosting).
It is not additive: attributions need not sum to the score minus the reference's score when groups
interact. Grouping keeps correlated inputs together (the 6- and 12-month ED counts are one reason,
not two halves of one).

Reasons are the up-to-three groups with the largest positive attribution (ties by group order),
rendered from the patient's own values, e.g. "2 ED visits in the last 6 months" or
"HbA1c 10.2% on 2025-03-04". A patient with no positive attribution gets one reason saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from models.features import CONDITION_COLUMNS, FEATURES

NO_REASON = "No single factor raises this score above a typical patient's"
MIN_ATTRIBUTION = 1e-6  # log-odds; smaller drops are numerical noise, not reasons
_BATCH = 200_000


def reference_values(x: np.ndarray) -> np.ndarray:
    """Per feature: missing when most rows miss it, else the median of the present values."""
    ref = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        column = x[:, j]
        present = column[~np.isnan(column)]
        if present.size * 2 > column.size:
            ref[j] = float(np.median(present))
    return ref


def feature_groups(names: Sequence[str]) -> dict[str, list[int]]:
    group_of = {f.name: f.group for f in FEATURES}
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        groups.setdefault(group_of.get(name, name), []).append(index)
    return groups


def _differs(block: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rows of ``block`` with at least one value unlike ``reference`` (a missing value is like a
    missing reference). Rows equal to the reference lose nothing when set to it: attribution 0."""
    same = (block == reference) | (np.isnan(block) & np.isnan(reference))
    return ~same.all(axis=1)


def group_attributions(
    raw_logit: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    reference: np.ndarray,
    groups: Mapping[str, Sequence[int]],
) -> tuple[np.ndarray, list[str]]:
    """(n rows x n groups) log-odds drops and the group names in column order.

    Only the rows whose group values differ from the reference are asked again: for the others
    the substituted row is the row itself and the drop is exactly 0. Most patients have no ED
    visit, no stay and no recent discharge, so most groups re-score a small share of the rows
    (the model is not asked 17 times about everyone)."""
    names = list(groups)
    out = np.zeros((x.shape[0], len(names)))
    for start in range(0, x.shape[0], _BATCH):
        block = x[start : start + _BATCH]
        base = raw_logit(block)
        for g, name in enumerate(names):
            columns = list(groups[name])
            rows = np.flatnonzero(_differs(block[:, columns], reference[columns]))
            if rows.size == 0:
                continue
            substituted = block[rows]
            substituted[:, columns] = reference[columns]
            out[start + rows, g] = base[rows] - raw_logit(substituted)
    return out, names


def top_groups(
    attributions: np.ndarray, names: Sequence[str], top: int = 3
) -> list[list[tuple[str, float]]]:
    """Per row, up to ``top`` (group, attribution) with the largest positive attributions."""
    # A stable sort on the negated values keeps group order among ties.
    order = np.argsort(-attributions, axis=1, kind="stable")[:, :top]
    out = []
    for row, columns in enumerate(order):
        chosen = [
            (names[c], float(attributions[row, c]))
            for c in columns
            if attributions[row, c] > MIN_ATTRIBUTION
        ]
        out.append(chosen)
    return out


# --- plain language -----------------------------------------------------------------------------


def _n(value: Any) -> int:
    return int(value) if value is not None and not _isnan(value) else 0


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _ed(row: Mapping[str, Any]) -> str:
    six, twelve = _n(row.get("ed_visits_6m")), _n(row.get("ed_visits_12m"))
    if six:
        return f"{_plural(six, 'ED visit')} in the last 6 months"
    if twelve:
        return f"{_plural(twelve, 'ED visit')} in the last 12 months"
    return "No ED visit in the last 12 months"


def _inpatient(row: Mapping[str, Any]) -> str:
    admits, days = _n(row.get("ip_admits_12m")), _n(row.get("ip_days_12m"))
    if admits:
        return (
            f"{_plural(admits, 'hospital admission')} in the last 12 months "
            f"({_plural(days, 'day')} in hospital)"
        )
    return "No hospital admission in the last 12 months"


def _observation(row: Mapping[str, Any]) -> str:
    stays = _n(row.get("obs_stays_12m"))
    if stays:
        return f"{_plural(stays, 'observation stay')} in the last 12 months"
    return "No observation stay in the last 12 months"


def _discharge(row: Mapping[str, Any]) -> str:
    when = row.get("last_discharge_date")
    if when is None:
        return "No hospital discharge in the last 12 months"
    text = f"Discharged from hospital on {_day(when)}"
    los = row.get("last_stay_length_of_stay")
    if los is not None:
        text += f" after {_plural(_n(los), 'day')}"
    lace = row.get("lace_total")
    if lace is not None and not _isnan(lace):
        text += f" (LACE {int(lace)}{', high' if lace >= 10 else ''})"
    return text


def _primary_care(row: Mapping[str, Any]) -> str:
    visits = _n(row.get("office_visits_12m"))
    if visits:
        return f"{_plural(visits, 'office or telehealth visit')} in the last 12 months"
    return "No office or telehealth visit in the last 12 months"


def _burden(row: Mapping[str, Any]) -> str:
    present = [label for name, label in CONDITION_COLUMNS if _n(row.get(name)) == 1]
    hcc = row.get("hcc_raw_v28")
    hcc_text = f"CMS-HCC risk score {hcc:.2f}" if hcc is not None and not _isnan(hcc) else ""
    if not present:
        return hcc_text or "No chronic condition on record"
    shown = ", ".join(present[:3]) + (f" and {len(present) - 3} more" if len(present) > 3 else "")
    text = f"{_plural(len(present), 'chronic condition')}: {shown}"
    return f"{text} ({hcc_text})" if hcc_text else text


def _hba1c(row: Mapping[str, Any]) -> str:
    value, when = row.get("hba1c_value"), row.get("hba1c_value_date")
    if value is not None and not _isnan(value) and when is not None:
        flag = " (above 9%)" if _n(row.get("hba1c_poor")) else ""
        return f"HbA1c {value:.1f}% on {_day(when)}{flag}"
    if _n(row.get("diabetes_without_hba1c")):
        return "Diabetes with no HbA1c test in the last 12 months"
    if _n(row.get("hba1c_poor")) and row.get("hba1c_date") is not None:
        return f"HbA1c above 9% on {_day(row['hba1c_date'])}"
    if row.get("hba1c_date") is not None:
        status = "controlled" if _n(row.get("hba1c_controlled")) else "not controlled (8% or more)"
        return f"HbA1c {status} on {_day(row['hba1c_date'])}"
    return "No HbA1c test in the last 12 months"


def _bp(row: Mapping[str, Any]) -> str:
    when = row.get("bp_date")
    if when is None:
        return "No blood pressure recorded in the last 12 months"
    systolic, diastolic = row.get("systolic_bp"), row.get("diastolic_bp")
    controlled = row.get("bp_controlled")
    status = ""
    if controlled is not None and not _isnan(controlled):
        status = " (controlled)" if controlled else " (not controlled)"
    if systolic is not None and diastolic is not None and not _isnan(systolic):
        return f"Blood pressure {systolic:.0f}/{diastolic:.0f} on {_day(when)}{status}"
    if controlled is not None and not _isnan(controlled) and not controlled:
        return f"Blood pressure 140/90 or above on {_day(when)}"
    return f"Blood pressure recorded on {_day(when)}{status}"


def _adherence(row: Mapping[str, Any]) -> str:
    pdc = row.get("pdc_min")
    if pdc is None or _isnan(pdc):
        return "No regular medicine filled twice in the last 12 months"
    return f"Medicine supply covered {pdc:.0%} of days for at least one regular medicine"


def _polypharmacy(row: Mapping[str, Any]) -> str:
    drugs = _n(row.get("distinct_drugs_6m"))
    return f"{_plural(drugs, 'different medicine')} in the last 6 months"


def _social(row: Mapping[str, Any]) -> str:
    needs = [
        label
        for name, label in (
            ("sdoh_housing", "housing instability"),
            ("sdoh_food", "food insecurity"),
            ("sdoh_transport", "transportation barrier"),
        )
        if _n(row.get(name)) == 1
    ]
    if needs:
        return "Social needs: " + ", ".join(needs)
    if _n(row.get("sdoh_not_screened")):
        return "Not screened for social needs"
    return "No social need found at screening"


def _programmes(row: Mapping[str, Any]) -> str:
    names = [
        label
        for name, label in (
            ("program_complex_care", "complex care management"),
            ("program_diabetes_management", "diabetes management"),
            ("program_transitions_of_care", "transitions of care"),
        )
        if _n(row.get(name)) == 1
    ]
    if names:
        return "Enrolled in " + " and ".join(names)
    if _n(row.get("program_any")):
        return "Enrolled in a care programme"
    return "Not enrolled in a care programme"


def _demographics(row: Mapping[str, Any]) -> str:
    age = row.get("age")
    return f"Age {int(age)}" if age is not None and not _isnan(age) else "Age unknown"


def _coverage(row: Mapping[str, Any]) -> str:
    if _n(row.get("dual_full")):
        return "Full-benefit dual Medicare and Medicaid eligible"
    if _n(row.get("dual_partial")):
        return "Partial-benefit dual Medicare and Medicaid eligible"
    if _n(row.get("entitled_by_disability")):
        return "Medicare entitlement through disability"
    if _n(row.get("payer_medicaid")):
        return "Medicaid coverage"
    months = _n(row.get("enrolled_months_12m"))
    if months < 12:
        return f"Enrolled {months} of the last 12 months"
    payer = row.get("payer_type") or "unknown"
    return f"{str(payer).capitalize()} coverage"


def _completeness(row: Mapping[str, Any]) -> str:
    if _n(row.get("no_encounter_12m")):
        return "No recorded care in the last 12 months"
    if _n(row.get("no_eligibility")):
        return "No eligibility record (known to the EHR only)"
    if _n(row.get("not_in_ehr")):
        return "Not known to the health system's EHR (claims only)"
    return "Records from claims and the EHR"


RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "ed_use": _ed,
    "inpatient_use": _inpatient,
    "observation_use": _observation,
    "recent_discharge": _discharge,
    "primary_care": _primary_care,
    "chronic_burden": _burden,
    "diabetes_control": _hba1c,
    "blood_pressure": _bp,
    "adherence": _adherence,
    "polypharmacy": _polypharmacy,
    "social_needs": _social,
    "programmes": _programmes,
    "demographics": _demographics,
    "coverage": _coverage,
    "data_completeness": _completeness,
}


def render(group: str, row: Mapping[str, Any]) -> str:
    return RENDERERS[group](row)


class _LazyRow(Mapping[str, Any]):
    """One row of a frame as a read-only mapping; a column becomes a Python list the first time
    any row asks for it, so rendering touches only the columns the chosen reasons need."""

    def __init__(self, frame: pl.DataFrame, cache: dict[str, list[Any]]) -> None:
        self._frame, self._cache, self.index = frame, cache, 0

    def __getitem__(self, name: str) -> Any:
        column = self._cache.get(name)
        if column is None:
            if name not in self._frame.columns:
                raise KeyError(name)
            column = self._cache[name] = self._frame[name].to_list()
        return column[self.index]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._frame.columns)

    def __len__(self) -> int:
        return self._frame.width


def reason_texts(
    frame: pl.DataFrame, chosen: Sequence[Sequence[tuple[str, float]]], top: int = 3
) -> list[list[str | None]]:
    """Plain-language reasons for each row of ``frame`` from its chosen groups."""
    if frame.height != len(chosen):
        raise ValueError(f"{frame.height} rows but {len(chosen)} sets of reasons")
    row = _LazyRow(frame, {})
    out = []
    for index, groups in enumerate(chosen):
        row.index = index
        texts: list[str | None] = [render(group, row) for group, _ in groups[:top]]
        if not texts:
            texts = [NO_REASON]
        out.append(texts + [None] * (top - len(texts)))
    return out


def explain(
    raw_logit: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    frame: pl.DataFrame,
    reference: np.ndarray,
    groups: Mapping[str, Sequence[int]],
    top: int = 3,
) -> tuple[list[list[str | None]], list[list[tuple[str, float]]]]:
    """Reasons (texts) and the chosen (group, attribution) pairs for every row."""
    attributions, names = group_attributions(raw_logit, x, reference, groups)
    chosen = top_groups(attributions, names, top)
    return reason_texts(frame, chosen, top), chosen
