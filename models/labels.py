"""What the risk model predicts: configurable labels built from what happened after a scoring date.

Two configurations ship:

- ``acute_use_180d`` (default): an unplanned acute inpatient admission or an ED visit (including
  an ED visit that turned into an observation stay, which core types as observation) in the 180
  days after the scoring date, for everyone alive and enrolled on that date. A health-need /
  utilisation label, not cost: Obermeyer et al. (Science 2019) showed that a cost label ranks
  equally sick Black patients lower because less is spent on them.
- ``readmission_30d``: an unplanned acute readmission in the 30 days after a live discharge that
  is not a transfer out, scored on the discharge date.

"Unplanned" uses the CMS Planned Readmission Algorithm as the readmission mart implements it when
``marts.readmission__stay`` exists, else popcare's simple rule (``sql/marts/risk__planned_stay.sql``:
elective admit type, chemotherapy/radiotherapy/rehabilitation principal diagnosis, transplant).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import duckdb
import polars as pl

from models.features import query_frame, table_exists
from pipelines.sql import quote_ident, run_sql


@dataclass(frozen=True)
class LabelSpec:
    name: str
    description: str
    horizon_days: int
    count_ed: bool
    count_observation: bool
    population: str  # 'everyone' (scored on scoring dates) | 'discharged' (on discharge dates)

    def as_dict(self) -> dict:
        return asdict(self)


ACUTE_USE_180D = LabelSpec(
    name="acute_use_180d",
    description=(
        "an unplanned acute inpatient admission or an emergency department visit (including ED "
        "visits that became observation stays) in the 180 days after the scoring date"
    ),
    horizon_days=180,
    count_ed=True,
    count_observation=True,
    population="everyone",
)
READMISSION_30D = LabelSpec(
    name="readmission_30d",
    description=(
        "an unplanned acute readmission in the 30 days after a live discharge that is not a "
        "transfer out, scored on the discharge date"
    ),
    horizon_days=30,
    count_ed=False,
    count_observation=False,
    population="discharged",
)
LABELS: dict[str, LabelSpec] = {spec.name: spec for spec in (ACUTE_USE_180D, READMISSION_30D)}
DEFAULT_LABEL = ACUTE_USE_180D.name


def label_spec(label: str | LabelSpec, horizon_days: int | None = None) -> LabelSpec:
    """A shipped label by name (optionally with another horizon, which renames it), or a spec."""
    spec = label if isinstance(label, LabelSpec) else LABELS.get(label)
    if spec is None:
        raise ValueError(f"unknown label {label!r}; known: {', '.join(LABELS)}")
    if horizon_days is not None and horizon_days != spec.horizon_days:
        if horizon_days < 1:
            raise ValueError("the horizon must be at least one day")
        stem = spec.name.rsplit("_", 1)[0]
        spec = replace(
            spec,
            name=f"{stem}_{horizon_days}d",
            description=spec.description.replace(
                f"{spec.horizon_days} days", f"{horizon_days} days"
            ),
            horizon_days=horizon_days,
        )
    return spec


def build_planned_stays(con: duckdb.DuckDBPyConnection, schema: str) -> str:
    """{schema}.risk__planned_stay by the readmission mart's CMS algorithm when built, else by the
    simple rule. Returns the rule used (recorded in the model's metadata)."""
    ids = {"schema": quote_ident(schema)}
    if table_exists(con, "marts", "readmission__stay"):
        run_sql(con, "marts/risk__planned_stay_hwr", identifiers=ids).fetchall()
        return "cms_planned_readmission_algorithm"
    run_sql(con, "marts/risk__planned_stay", identifiers=ids).fetchall()
    return "popcare_simple_rule"


def build_labels(
    con: duckdb.DuckDBPyConnection, schema: str, spec: LabelSpec
) -> tuple[pl.DataFrame, str]:
    """Labels for every row of {schema}.risk__population (built by the feature SQL with the same
    horizon): person_id, scoring_date, horizon_end, label, acute_events, unplanned_admissions,
    first_event_date, realised_condition_count; and the planned-stay rule used."""
    rule = build_planned_stays(con, schema)
    run_sql(
        con,
        "marts/risk__label",
        params={"count_ed": spec.count_ed, "count_observation": spec.count_observation},
        identifiers={"schema": quote_ident(schema)},
    ).fetchall()
    frame = query_frame(
        con, f"select * from {quote_ident(schema)}.risk__label order by scoring_date, person_id"
    )
    return frame, rule
