"""Risk model: metrics, reasons, deterministic training, schema refusal, fallback, assets, leakage.

One generated population (600 people, three years) is built once for the module; training uses a
one-candidate grid so the whole file stays fast.
"""

import os
from dataclasses import replace
from datetime import date, datetime

import duckdb
import numpy as np
import polars as pl
import pytest
from dagster import materialize
from dagster_duckdb import DuckDBResource
from sklearn.metrics import average_precision_score, roc_auc_score

from models import evaluate, explain
from models.artifact import SchemaMismatchError
from models.features import FEATURE_NAMES, build_feature_frame, build_risk_features, query_frame
from models.registry import list_models, newest_model, register
from models.score import (
    FALLBACK_VERSION,
    rank_columns,
    score_population,
    score_with_model,
    scoring_threads,
)
from models.train import TrainConfig, TrainingDataError, train_and_register
from pipelines.contract import TABLES
from pipelines.core import build_core
from pipelines.ingest import load_table, take_inventory
from pipelines.settings import PopcareSettings
from pipelines.staging import stage_table
from pipelines.synthetic import generate
from tests.core_fixtures import make_staging

START, END = date(2023, 10, 1), date(2026, 9, 30)
FAST = TrainConfig(
    param_grid=({"learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 40},),
    logistic_c_grid=(0.1,),
    cv_folds=2,
    bootstrap=20,
    audit_bootstrap=0,
)


def stage_population(con: duckdb.DuckDBPyConnection, folder) -> None:
    inventory = take_inventory(folder)
    for name in TABLES:
        load_table(con, name, inventory.files[name], "L1", datetime(2026, 9, 30, 6))
    for name in TABLES:
        stage_table(con, name, END)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk_population")
    generate(600, 20260930, START, END, folder / "input", "parquet")
    path = folder / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    stage_population(con, folder / "input")
    build_core(con, END)
    con.close()
    return path


@pytest.fixture(scope="module")
def trained(warehouse):
    return train_and_register(warehouse, END, config=FAST)


# --- metrics ------------------------------------------------------------------------------------


def test_auroc_and_average_precision_match_scikit_learn():
    rng = np.random.default_rng(3)
    y = (rng.random(3000) < 0.2).astype(float)
    p = np.round(0.3 * y + rng.random(3000), 2)  # rounded: plenty of ties
    assert evaluate.auroc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert evaluate.average_precision(y, p) == pytest.approx(average_precision_score(y, p))


def test_calibration_measures_of_a_calibrated_score():
    rng = np.random.default_rng(4)
    p = rng.uniform(0.02, 0.6, 40_000)
    y = (rng.random(p.size) < p).astype(float)
    slope, intercept = evaluate.calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.06) and intercept == pytest.approx(0.0, abs=0.04)
    assert evaluate.observed_expected(y, p) == pytest.approx(1.0, abs=0.03)
    # An over-confident score (logit doubled) has a slope near 1/2.
    z = 2 * evaluate.logit(p)
    assert evaluate.calibration_slope_intercept(y, 1 / (1 + np.exp(-z)))[0] == pytest.approx(
        0.5, abs=0.05
    )


def test_top_share_lists_and_tiers_have_exact_sizes():
    p = np.linspace(0, 1, 1000)
    assert evaluate.top_k_mask(p, 0.05).sum() == 50
    tiers = evaluate.assign_tiers(p)
    assert [(tiers == t).sum() for t in ("complex", "high", "rising", "low")] == [10, 40, 150, 800]
    percentile, tiers = rank_columns(np.zeros(4), ["d", "b", "a", "c"], (0.25, 0.5, 0.75))
    # All tied: person_id breaks the tie, the first id ranks highest.
    assert list(percentile) == [25.0, 75.0, 100.0, 50.0]
    assert list(tiers) == ["low", "high", "complex", "rising"]


# --- reasons ------------------------------------------------------------------------------------


class _Linear:
    """A model whose log-odds are w . x: group attributions are exactly w_g . (x_g - ref_g)."""

    def __init__(self, weights):
        self.weights = np.asarray(weights, dtype=float)

    def __call__(self, x):
        return np.nan_to_num(x) @ self.weights


def test_attributions_are_the_model_drop_when_a_group_is_set_to_the_reference():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 6))
    reference = np.zeros(6)
    weights = np.array([1.0, 0.5, -2.0, 3.0, 0.2, -0.1])
    groups = {"a": [0, 1], "b": [2], "c": [3, 4], "d": [5]}
    attributions, names = explain.group_attributions(_Linear(weights), x, reference, groups)
    for g, name in enumerate(names):
        columns = groups[name]
        expected = x[:, columns] @ weights[columns]
        assert np.allclose(attributions[:, g], expected)
    chosen = explain.top_groups(attributions, names)
    for row, picks in enumerate(chosen):
        positive = [(names[g], attributions[row, g]) for g in range(4) if attributions[row, g] > 0]
        expected = sorted(positive, key=lambda t: -t[1])[:3]
        assert [n for n, _ in picks] == [n for n, _ in expected]


def test_reasons_match_the_largest_contributions_of_the_trained_model(trained, warehouse):
    con = duckdb.connect(str(warehouse))
    frame = build_feature_frame(con, [END], schema="risk_reason_test")
    con.close()
    model = newest_model(warehouse, "acute_use_180d")[0]
    scores = score_with_model(frame, model)
    x = model.matrix(frame, FEATURE_NAMES)
    top = np.argsort(-scores["score"].to_numpy())[:40]
    base = model.raw_logit(x[top])
    for i, row_index in enumerate(top):
        # Brute force, independent of explain.group_attributions: one group at a time.
        drops = {}
        for group, columns in model.reason_groups.items():
            substituted = x[row_index : row_index + 1].copy()
            substituted[:, columns] = model.reference_values[columns]
            drops[group] = base[i] - model.raw_logit(substituted)[0]
        ranked = [g for g, d in sorted(drops.items(), key=lambda t: -t[1]) if d > 1e-6][:3]
        row = frame.row(int(row_index), named=True)
        expected = [explain.render(g, row) for g in ranked] or [explain.NO_REASON]
        got = [r for r in scores.row(int(row_index), named=True).values()][-3:]
        assert [r for r in got if r is not None] == expected


def test_reason_texts_read_like_the_issue_examples():
    row = {
        "ed_visits_6m": 2.0,
        "ed_visits_12m": 3.0,
        "hba1c_value": 10.2,
        "hba1c_value_date": date(2025, 3, 4),
        "hba1c_poor": 1.0,
    }
    assert explain.render("ed_use", row) == "2 ED visits in the last 6 months"
    assert explain.render("diabetes_control", row) == "HbA1c 10.2% on 2025-03-04 (above 9%)"


# --- training -----------------------------------------------------------------------------------


def test_training_is_temporal_and_registers_a_versioned_model(trained, warehouse):
    meta = trained.metadata
    plan = meta["plan"]
    assert max(plan["fit_dates"]) < plan["calibration_dates"][0] < plan["validation_dates"][0]
    # Every training label is complete before the validation date.
    horizon = meta["label_spec"]["horizon_days"]
    last_train = date.fromisoformat(plan["calibration_dates"][0])
    assert (date.fromisoformat(plan["validation_dates"][0]) - last_train).days >= horizon
    assert trained.version.startswith("acute_use_180d-20260930-")
    assert (trained.path / "model.joblib").is_file() and (trained.path / "model-card.md").is_file()
    assert meta["feature_schema"] == [[n, "Float64"] for n in FEATURE_NAMES]
    card = (trained.path / "model-card.md").read_text()
    assert trained.version in card and "Subgroup audit" in card


def test_training_is_deterministic_with_a_fixed_seed(trained, warehouse):
    again = train_and_register(warehouse, END, config=FAST)
    assert again.version == trained.version
    assert (
        again.metadata["validation"]["overall"]["scores"]["model"]["auroc"]
        == (trained.metadata["validation"]["overall"]["scores"]["model"]["auroc"])
    )
    con = duckdb.connect(str(warehouse))
    build_risk_features(con, END)
    score_population(con, warehouse)
    first = query_frame(con, "select * from marts.risk_scores")
    score_population(con, warehouse)
    second = query_frame(con, "select * from marts.risk_scores")
    con.close()
    assert first.equals(second)
    assert first["model_version"].unique().to_list() == [trained.version]
    assert first["reason_1"].null_count() == 0
    assert first.filter(pl.col("tier") == "complex").height == int(np.ceil(0.01 * first.height))


def test_a_different_seed_gives_a_different_version(warehouse, trained):
    other = train_and_register(warehouse, END, config=replace(FAST, seed=7))
    assert other.version != trained.version
    # Keep the module's model the newest for the tests that follow.
    train_and_register(warehouse, END, config=FAST)


def test_scoring_refuses_a_model_whose_feature_schema_does_not_match(trained, warehouse):
    con = duckdb.connect(str(warehouse))
    build_risk_features(con, END)
    features = query_frame(con, "select * from marts.risk_features")
    model = newest_model(warehouse, "acute_use_180d")[0]
    with pytest.raises(SchemaMismatchError, match="missing features: age"):
        score_with_model(features.drop("age"), model)
    changed = features.with_columns(pl.col("ed_visits_6m").cast(pl.Int64))
    with pytest.raises(SchemaMismatchError, match="another type"):
        score_with_model(changed, model)
    # A registered model trained on another feature list is refused by the nightly scoring.
    model.feature_schema = [*model.feature_schema, ["retired_feature", "Float64"]]
    model.version = "acute_use_180d-20260930-oldschema000"
    register(warehouse, model, {"note": "test"})
    with pytest.raises(SchemaMismatchError, match="retired_feature"):
        score_population(con, warehouse)
    con.close()
    # Clean up: the newest registered model is a good one again.
    train_and_register(warehouse, END, config=FAST)
    assert list_models(warehouse)[-1]["version"] == trained.version


def test_no_feature_reads_past_the_cutoff_on_a_generated_population(warehouse, tmp_path):
    scoring = date(2025, 6, 30)
    path = tmp_path / "copy.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"attach '{warehouse}' as src (read_only)")
    con.execute("create schema staging")
    for name in TABLES:
        con.execute(f"create table staging.{name} as select * from src.staging.{name}")
    con.execute("detach src")
    build_core(con, END)
    full = build_feature_frame(con, [scoring], schema="leak_full")
    cut = {"d": scoring}
    deletes = {
        "medical_claim": "claim_start_date > $d",
        "pharmacy_claim": "dispensing_date > $d",
        "encounter": "encounter_start_date > $d",
        "condition": "coalesce(recorded_date, onset_date) > $d",
        "procedure": "procedure_date > $d",
        "lab_result": "cast(coalesce(collection_datetime, result_datetime) as date) > $d",
        "observation": "observation_date > $d",
        "medication": "coalesce(dispensing_date, prescribing_date) > $d",
        "registry": "enrolled_date > $d",
    }
    removed = 0
    for table, condition in deletes.items():
        removed += con.execute(f"delete from staging.{table} where {condition}", cut).fetchall()[0][
            0
        ]
    for table in ("eligibility", "patient"):
        con.execute(
            f"update staging.{table} set death_date = null, death_flag = 0 where death_date > $d",
            cut,
        )
    con.execute(
        "update staging.registry set disenrolled_date = null where disenrolled_date > $d", cut
    )
    assert removed > 1000
    build_core(con, END)
    truncated = build_feature_frame(con, [scoring], schema="leak_cut")
    con.close()
    columns = [c for c in full.columns if c != "open_care_gaps"]
    assert full.height > 400
    assert full.select(columns).equals(truncated.select(columns))


# --- small populations --------------------------------------------------------------------------


def _tiny(con: duckdb.DuckDBPyConnection) -> None:
    people = [
        {
            "person_id": f"T{i}",
            "gender": "female" if i % 2 else "male",
            "birth_date": f"{1940 + 3 * i}-05-01",
            "enrollment_start_date": "2026-01-01",
            "enrollment_end_date": "2026-12-31",
            "payer_type": "medicare" if i < 5 else "commercial",
        }
        for i in range(10)
    ]
    claims = [
        {
            "claim_id": f"C{i}",
            "claim_line_number": 1,
            "claim_type": "institutional",
            "person_id": f"T{i}",
            "bill_type_code": "131",
            "claim_start_date": "2026-06-01",
            "claim_end_date": "2026-06-01",
            "revenue_center_code": "0450",
            "hcpcs_code": "99284",
            "diagnosis_code_1": "I5022" if i < 3 else "J069",
            "paid_amount": 300,
        }
        for i in range(4)
    ]
    make_staging(con, eligibility=people, medical_claim=claims)
    build_core(con, END)


def test_a_tiny_population_is_refused_with_a_clear_message_and_scored_by_the_baseline(tmp_path):
    path = tmp_path / "tiny.duckdb"
    con = duckdb.connect(str(path))
    _tiny(con)
    con.close()
    with pytest.raises(TrainingDataError, match=r"history runs \d+ months"):
        train_and_register(path, END, config=FAST)
    con = duckdb.connect(str(path))
    build_risk_features(con, END)
    summary = score_population(con, path)
    scores = query_frame(con, "select * from marts.risk_scores order by percentile desc")
    con.close()
    assert summary["model_version"] == FALLBACK_VERSION and summary["rows"] == 10
    assert scores["reason_1"].null_count() == 0
    top = scores.row(0, named=True)
    assert top["person_id"] in ("T0", "T1", "T2")  # heart failure + an ED visit
    assert "ED visit" in " ".join(r for r in (top["reason_1"], top["reason_2"]) if r)


def test_risk_assets_materialise_on_a_tiny_warehouse(tmp_path):
    from pipelines.assets.risk import RISK_MODEL, retrain_job, retrain_schedule, risk_assets

    path = tmp_path / "tiny.duckdb"
    con = duckdb.connect(str(path))
    _tiny(con)
    con.close()
    settings = PopcareSettings(
        input_dir=str(tmp_path), out_dir=str(tmp_path / "out"), as_of=str(END)
    )
    result = materialize(
        risk_assets, resources={"settings": settings, "duckdb": DuckDBResource(database=str(path))}
    )
    assert result.success
    model_meta = {
        e.materialization.asset_key: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert model_meta[RISK_MODEL]["status"].value == "not_trained"
    con = duckdb.connect(str(path))
    versions = con.execute("select distinct model_version from marts.risk_scores").fetchall()
    con.close()
    assert versions == [(FALLBACK_VERSION,)]
    assert retrain_job.name == "retrain" and retrain_schedule.job_name == "retrain"


def test_scoring_threads_use_idle_cores_unless_configured():
    assert scoring_threads({}, cores=2, busy=0.2) == 2
    assert scoring_threads({}, cores=2, busy=1.4) == 1
    assert scoring_threads({}, cores=2, busy=2.0) == 1  # a busy machine: never below one
    assert scoring_threads({}, cores=8, busy=2.6) == 5
    assert scoring_threads({"POPCARE_RISK_THREADS": "3"}, cores=2, busy=2.0) == 3
    assert scoring_threads({"POPCARE_RISK_THREADS": " "}, cores=2, busy=0.0) == 2
    assert 1 <= scoring_threads({}) <= (os.cpu_count() or 1)  # measured from /proc/stat
