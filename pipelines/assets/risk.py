"""Risk stratification: features, the warehouse's own model, and nightly scores with reasons.

- ``marts/risk_features``: every model input for everyone alive and enrolled on the as-of date.
- ``models/risk_model``: trains when this warehouse has no registered model (or only one built for
  other feature code), else reports the current one; the monthly ``retrain`` job forces training.
  A population too small or a history too short is reported, not failed: scoring then uses the
  documented baseline.
- ``marts/risk_scores``: the newest registered model's calibrated scores, percentiles, tiers and
  three plain-language reasons per person (or the baseline, model_version 'baseline-fallback').

marts.measure_patient (open care gaps, display only) and marts.readmission__stay (the CMS planned
readmission algorithm for the label) are read when present. They are not declared as deps by
default, because a dep on an asset the code location does not define fails at load:
``build_risk_assets(extra_deps=[...])`` adds them when the location has them.

Metadata are counts, versions and metrics only: no identifiers reach the run database.
"""

import os
from collections.abc import Sequence
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)
from dagster_duckdb import DuckDBResource

from models.features import build_risk_features, feature_schema
from models.labels import DEFAULT_LABEL
from models.registry import list_models, newest_model
from models.score import FALLBACK_VERSION, score_population
from models.train import TrainingDataError, train_and_register
from pipelines.settings import PopcareSettings

RISK_FEATURES = AssetKey(["marts", "risk_features"])
RISK_MODEL = AssetKey(["models", "risk_model"])
RISK_SCORES = AssetKey(["marts", "risk_scores"])
MEASURE_PATIENT = AssetKey(["marts", "measure_patient"])
READMISSION_INDEX_STAYS = AssetKey(["marts", "readmission_index_stays"])

# The core tables the risk SQL reads (sql/marts/risk__*.sql), plus the registry's staging table.
_CORE_INPUTS = (
    "person",
    "enrollment",
    "member_months",
    "medical_claim_final",
    "inpatient_stay",
    "encounter",
    "diagnosis",
    "procedure",
    "lab",
    "vital",
    "pharmacy_fill",
)
_INPUT_DEPS = [AssetKey(["core", name]) for name in _CORE_INPUTS] + [
    AssetKey(["staging", "registry"])
]

RETRAIN_CRON = os.environ.get("POPCARE_RETRAIN_CRON", "0 4 1 * *")
TIMEZONE = os.environ.get("POPCARE_TIMEZONE", "UTC")


class RiskModelConfig(Config):
    """``force_retrain``: train even when a current model is registered (the retrain job)."""

    force_retrain: bool = False


def model_home(database: str, settings: PopcareSettings) -> Path:
    """The path models are registered beside: the warehouse file, or a stand-in under the output
    folder for an in-memory warehouse."""
    if not database or database == ":memory:":
        return settings.out_path / "models" / "in-memory-warehouse"
    return Path(database).expanduser().resolve()


def _meta(values: dict) -> dict[str, MetadataValue]:
    out = {}
    for key, value in values.items():
        if isinstance(value, bool):
            out[key] = MetadataValue.bool(value)
        elif isinstance(value, int):
            out[key] = MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = MetadataValue.float(value)
        elif value is not None:
            out[key] = MetadataValue.text(str(value))
    return out


def _model_metrics(meta: dict) -> dict[str, float]:
    """AUROC / AUPRC of the model and each baseline, the calibration slope: from model metadata."""
    out: dict[str, float] = {}
    validation = meta.get("validation") or {}
    scores = (validation.get("overall") or {}).get("scores") or {}
    for name, metrics in scores.items():
        for metric in ("auroc", "auprc"):
            value = (metrics.get(metric) or {}).get("value")
            if value is not None:
                out[f"{name}_{metric}"] = round(float(value), 4)
    slope = ((scores.get("model") or {}).get("calibration_slope") or {}).get("value")
    if slope is not None:
        out["calibration_slope"] = round(float(slope), 3)
    lace = ((validation.get("discharged") or {}).get("scores") or {}).get("lace") or {}
    if (lace.get("auroc") or {}).get("value") is not None:
        out["lace_auroc_discharged"] = round(float(lace["auroc"]["value"]), 4)
    return out


def _current_schema_matches(meta: dict) -> bool:
    return meta.get("feature_schema") == feature_schema()


def build_risk_assets(extra_deps: Sequence[AssetKey] = ()) -> list[AssetsDefinition]:
    """The three risk assets. ``extra_deps``: e.g. [READMISSION_INDEX_STAYS, MEASURE_PATIENT]
    when the code location defines them, so the label uses the CMS planned-readmission logic and
    the features show open care gaps from the same run."""
    feature_deps = [*_INPUT_DEPS, *[k for k in extra_deps if k == MEASURE_PATIENT]]
    model_deps = [*_INPUT_DEPS, *[k for k in extra_deps if k != MEASURE_PATIENT]]

    @asset(
        key=RISK_FEATURES,
        group_name="marts",
        deps=feature_deps,
        compute_kind="duckdb",
        description="Risk-model inputs for everyone alive and enrolled on the as-of date.",
    )
    def risk_features(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        as_of = settings.as_of_date()
        with duckdb.get_connection() as con:
            stats = build_risk_features(con, as_of)
        context.log.info(f"marts.risk_features: {stats['rows']} rows as of {as_of}")
        return MaterializeResult(metadata={**_meta(stats), "as_of": MetadataValue.text(str(as_of))})

    @asset(
        key=RISK_MODEL,
        group_name="models",
        deps=model_deps,
        compute_kind="scikit-learn",
        description="This warehouse's risk model: trained on its own history when it has none.",
    )
    def risk_model(
        context: AssetExecutionContext,
        config: RiskModelConfig,
        settings: PopcareSettings,
        duckdb: DuckDBResource,
    ) -> MaterializeResult:
        as_of = settings.as_of_date()
        home = model_home(duckdb.database, settings)
        current = list_models(home, DEFAULT_LABEL)
        compatible = [m for m in current if _current_schema_matches(m)]
        if compatible and not config.force_retrain:
            meta = compatible[-1]
            context.log.info(f"current risk model {meta['version']} (no retraining requested)")
            return MaterializeResult(
                metadata=_meta(
                    {"status": "current", "model_version": meta["version"], **_model_metrics(meta)}
                )
            )
        why = (
            "retrain requested"
            if config.force_retrain
            else (
                "registered models were built for other feature code"
                if current
                else "no registered model for this warehouse"
            )
        )
        context.log.info(f"training the risk model as of {as_of}: {why}")
        try:
            with duckdb.get_connection() as con:
                outcome = train_and_register(home, as_of, con=con, command="popcare run")
        except TrainingDataError as exc:
            context.log.warning(
                f"risk model not trained: {exc}. Scores use the baseline ({FALLBACK_VERSION}): "
                "CMS-HCC raw score + prior-year acute use."
            )
            return MaterializeResult(
                metadata=_meta(
                    {
                        "status": "not_trained",
                        "model_version": FALLBACK_VERSION,
                        "reason": str(exc),
                    }
                )
            )
        meta = outcome.metadata
        context.log.info(f"registered risk model {outcome.version}")
        return MaterializeResult(
            metadata=_meta(
                {
                    "status": "trained",
                    "model_version": outcome.version,
                    "training_rows": meta["rows"]["fit"]["rows"]
                    + meta["rows"]["calibration"]["rows"],
                    "validation_rows": meta["rows"]["validation"]["rows"],
                    **_model_metrics(meta),
                }
            )
        )

    @asset(
        key=RISK_SCORES,
        group_name="marts",
        deps=[RISK_FEATURES, RISK_MODEL],
        compute_kind="scikit-learn",
        description="Risk score, percentile, tier and three reasons per person, nightly.",
    )
    def risk_scores(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        home = model_home(duckdb.database, settings)
        with duckdb.get_connection() as con:
            summary = score_population(con, home, label=DEFAULT_LABEL)
        context.log.info(
            f"marts.risk_scores: {summary['rows']} people scored with {summary['model_version']}"
        )
        found = (
            newest_model(home, DEFAULT_LABEL)
            if summary["model_version"] != FALLBACK_VERSION
            else None
        )
        metrics = _model_metrics(found[1]) if found else {}
        return MaterializeResult(metadata=_meta({**summary, **metrics}))

    return [risk_features, risk_model, risk_scores]


risk_assets = build_risk_assets()

retrain_job = define_asset_job(
    "retrain",
    selection=AssetSelection.assets(RISK_MODEL),
    config={"ops": {"models__risk_model": {"config": {"force_retrain": True}}}},
    description="Retrain the risk model on the warehouse's history and register a new version.",
)

retrain_schedule = ScheduleDefinition(
    name="retrain_monthly",
    job=retrain_job,
    cron_schedule=RETRAIN_CRON,
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="Monthly retraining (POPCARE_RETRAIN_CRON in POPCARE_TIMEZONE; default 04:00 on "
    "the 1st, UTC). Scoring stays nightly with the newest registered model.",
)
