"""Population overview: enrolment, demographics, chronic conditions, cost and utilisation.

A marimo notebook (`marimo edit notebooks/population_overview.py`; headless:
`python notebooks/population_overview.py`). Reads the warehouse read-only and shows aggregates only.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="popcare: population overview")

with app.setup:
    import os
    from pathlib import Path

    import duckdb
    import marimo as mo
    import pandas as pd
    import plotly.express as px

    # Where `make run` / `popcare run` write the warehouse (pipelines/settings.py DEFAULT_WAREHOUSE);
    # POPCARE_WAREHOUSE overrides it, as it does for the pipeline.
    REPO_ROOT = Path(__file__).resolve().parents[1]
    WAREHOUSE = Path(os.environ.get("POPCARE_WAREHOUSE") or REPO_ROOT / "data" / "warehouse.duckdb")

    def query(con, sql, **params):
        """The result of a query as a pandas DataFrame (every query here is an aggregate)."""
        return con.execute(sql, params or None).df()

    def scalar(con, sql, **params):
        """The single value a query returns."""
        return con.execute(sql, params or None).fetchall()[0][0]


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Population overview

    Who is in the warehouse, how long they were covered, what chronic conditions they carry, and
    what their care cost and how often they used it. Every number below is an aggregate computed
    from the `core` and `marts` tables (their rules: `docs/core-model.md`); no row of a person is
    shown. Small cells are not suppressed: apply your own small-cell rule before publishing.
    """)
    return


@app.cell
def _():
    if not WAREHOUSE.is_file():
        raise FileNotFoundError(
            f"no warehouse at {WAREHOUSE}: run `make run` (or `popcare run`) first, "
            "or set POPCARE_WAREHOUSE to a warehouse file"
        )
    # Read-only: the notebook can never change the warehouse, and it can be open while analysts
    # run other read-only sessions (a nightly run needs the file to itself).
    con = duckdb.connect(str(WAREHOUSE), read_only=True)
    return (con,)


@app.cell
def _(con):
    # The run's as-of date: the date the risk features were computed for (the nightly scoring
    # date), else the last day of the last enrolled month.
    as_of = scalar(
        con,
        """
        select coalesce(
            (select max(scoring_date) from marts.risk_features),
            (select last_day(max(month_start_date)) from core.member_months)
        )
        """,
    )
    window_start = (pd.Timestamp(as_of) - pd.DateOffset(months=12) + pd.DateOffset(days=1)).date()
    population = scalar(con, "select count(*) from core.person")
    alive = scalar(con, "select count(*) from core.person where not is_deceased")
    mo.md(f"""
    ## The population

    - **{population:,}** people in `core.person` (everyone in the eligibility or EHR patient
      files), **{alive:,}** not known to have died.
    - As-of date **{as_of}**; "the last 12 months" below means {window_start} to {as_of}.
    """)
    return as_of, population, window_start


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Enrolment: member months by month and payer

    `core.member_months` has one row per person and calendar month enrolled on any day of the
    month; when several spans cover a month the payer is the one covering the most days
    (`docs/core-model.md`, *enrollment and member_months*). Twelve member months make one member
    year, the denominator of every "per 1,000 member years" rate in this notebook.
    """)
    return


@app.cell
def _(con):
    member_months = query(
        con,
        """
        select month_start_date as month, payer_type, payer, count(*) as member_months
        from core.member_months
        group by all
        order by month, payer_type
        """,
    )
    total_member_months = int(member_months["member_months"].sum())
    mo.vstack(
        [
            mo.md(
                f"**{total_member_months:,}** member months "
                f"({total_member_months / 12:,.1f} member years) from "
                f"{member_months['month'].min():%Y-%m} to {member_months['month'].max():%Y-%m}."
            ),
            px.area(
                member_months,
                x="month",
                y="member_months",
                color="payer_type",
                hover_data=["payer"],
                title="Member months by month and payer type",
                labels={"member_months": "members enrolled", "payer_type": "payer type"},
            ),
        ]
    )
    return (member_months,)


@app.cell
def _(member_months):
    payer_summary = (
        member_months.groupby(["payer_type", "payer"], as_index=False)["member_months"]
        .sum()
        .assign(member_years=lambda d: (d["member_months"] / 12).round(1))
        .sort_values("member_months", ascending=False)
    )
    payer_summary
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Demographics

    From `core.person`: eligibility wins over the EHR field by field, sex is the eligibility
    gender else the EHR sex, and age is in whole years at the as-of date (`age_as_of`). Age bands
    are the measures' default bands (`docs/measures/README.md`). Race and ethnicity are as
    recorded; `unknown` means the sources did not say.
    """)
    return


@app.cell
def _(con):
    demographics = query(
        con,
        """
        with banded as (
            select
                case
                    when age_as_of < 18 then '0-17'
                    when age_as_of < 45 then '18-44'
                    when age_as_of < 65 then '45-64'
                    when age_as_of < 75 then '65-74'
                    else '75+'
                end as age_band,
                coalesce(sex, 'unknown') as sex,
                coalesce(race, 'unknown') as race,
                coalesce(ethnicity, 'unknown') as ethnicity
            from core.person
        )
        select 'age band' as attribute, age_band as value, count(*) as people from banded group by all
        union all
        select 'sex', sex, count(*) from banded group by all
        union all
        select 'race', race, count(*) from banded group by all
        union all
        select 'ethnicity', ethnicity, count(*) from banded group by all
        """,
    )
    demographics["share"] = demographics["people"] / demographics.groupby("attribute")[
        "people"
    ].transform("sum")
    demographics = demographics.sort_values(["attribute", "value"]).reset_index(drop=True)
    px.bar(
        demographics,
        x="share",
        y="value",
        facet_col="attribute",
        facet_col_wrap=2,
        orientation="h",
        text="people",
        title="Demographics (share of the population; bar labels are head counts)",
        labels={"share": "share of people", "value": ""},
    ).update_yaxes(matches=None, showticklabels=True).update_xaxes(tickformat=".0%")
    return (demographics,)


@app.cell
def _(demographics):
    demographics.assign(share=lambda d: (100 * d["share"]).round(1)).rename(
        columns={"share": "share_pct"}
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Chronic conditions

    Prevalence of the 17 chronic conditions of the risk model (`docs/risk-model.md`, *Features*;
    rule in `sql/marts/risk__condition.sql`, codes in `models/chronic_conditions.csv`, CMS Chronic
    Conditions Warehouse categories simplified to ICD-10-CM prefixes): an ICD-10-CM code of a final
    claim in the 12 months up to the as-of date, or an EHR problem-list entry recorded on or
    before it. The denominator is `marts.risk_features`: everyone alive and enrolled on the as-of
    date, plus people known only to the EHR. ESRD/dialysis refines chronic kidney disease and is
    not counted again in the number of conditions.
    """)
    return


@app.cell
def _(con):
    condition_columns = query(
        con,
        """
        select column_name
        from information_schema.columns
        where table_schema = 'marts' and table_name = 'risk_features'
            and starts_with(column_name, 'cc_')
        order by ordinal_position
        """,
    )["column_name"].tolist()
    prevalence_sql = ", ".join(
        f"avg({name}) as {name}, sum({name}) as n_{name}" for name in condition_columns
    )
    _row = query(con, f"select count(*) as people, {prevalence_sql} from marts.risk_features").iloc[
        0
    ]
    scored_people = int(_row["people"])
    prevalence = (
        pd.DataFrame(
            {
                "condition": [c.removeprefix("cc_").replace("_", " ") for c in condition_columns],
                "people": [int(_row[f"n_{c}"]) for c in condition_columns],
                "prevalence": [float(_row[c]) for c in condition_columns],
            }
        )
        .sort_values("prevalence", ascending=False)
        .reset_index(drop=True)
    )
    mo.vstack(
        [
            mo.md(f"Denominator: **{scored_people:,}** people in `marts.risk_features`."),
            px.bar(
                prevalence,
                x="prevalence",
                y="condition",
                orientation="h",
                text="people",
                title="Chronic condition prevalence at the as-of date",
                labels={"prevalence": "share of people", "condition": ""},
            )
            .update_yaxes(autorange="reversed")
            .update_xaxes(tickformat=".0%"),
        ]
    )
    return


@app.cell
def _(con):
    condition_count = query(
        con,
        """
        select
            case when chronic_condition_count >= 4 then '4+'
                else cast(cast(chronic_condition_count as integer) as varchar) end
                as chronic_conditions,
            count(*) as people
        from marts.risk_features
        group by all
        order by chronic_conditions
        """,
    )
    px.bar(
        condition_count,
        x="chronic_conditions",
        y="people",
        text="people",
        title="People by number of chronic conditions",
        labels={"chronic_conditions": "chronic conditions"},
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Cost and utilisation per 1,000 member years, last 12 months

    Only care in a month the person was enrolled counts, so numerator and denominator describe the
    same coverage; each event takes the payer type of that member month.

    - **Paid**: `paid_amount` of the final medical claim lines (`core.medical_claim_final`, after
      adjudication: replacements, voids, reversals and denials resolved) by claim start date, and
      of pharmacy claims (`core.pharmacy_fill`, source `pharmacy_claim`, reversals netted) by
      dispensing date. PMPM = paid per member month.
    - **Inpatient admissions**: acute stays of `core.inpatient_stay` by admission date, a transfer
      chain counted once (its first stay).
    - **ED visits**: `core.encounter` of type `emergency_department`. An ED visit that led to an
      admission belongs to the stay and is not counted here; the EDU measure
      (`docs/measures/edu.md`) applies its own exclusions, so its rate differs.
    - **Office visits**: `core.encounter` of type `office` (E/M, preventive and transitional care
      visits); telehealth visits are counted apart.
    """)
    return


@app.cell
def _(as_of, con, window_start):
    utilisation = query(
        con,
        """
        with months as (
            select person_id, year_month, payer_type
            from core.member_months
            where month_start_date between date_trunc('month', $window_start) and $as_of
        ),
        medical as (
            select person_id, strftime(claim_start_date, '%Y%m') as year_month,
                sum(paid_amount) as paid
            from core.medical_claim_final
            where claim_start_date between $window_start and $as_of
            group by all
        ),
        pharmacy as (
            select person_id, strftime(dispensing_date, '%Y%m') as year_month,
                sum(paid_amount) as paid
            from core.pharmacy_fill
            where source = 'pharmacy_claim' and dispensing_date between $window_start and $as_of
            group by all
        ),
        events as (
            select person_id, strftime(admission_date, '%Y%m') as year_month,
                'inpatient admissions' as kind
            from core.inpatient_stay
            where transfer_chain_position = 1 and admission_date between $window_start and $as_of
            union all
            select person_id, strftime(start_date, '%Y%m'),
                case encounter_type
                    when 'emergency_department' then 'ED visits'
                    when 'office' then 'office visits'
                    else 'telehealth visits'
                end
            from core.encounter
            where encounter_type in ('emergency_department', 'office', 'telehealth')
                and start_date between $window_start and $as_of
        ),
        event_counts as (
            select person_id, year_month, kind, count(*) as events from events group by all
        )
        select
            m.payer_type,
            count(*) as member_months,
            coalesce(sum(md.paid), 0) as medical_paid,
            coalesce(sum(rx.paid), 0) as pharmacy_paid,
            coalesce(sum(e.admissions), 0) as inpatient_admissions,
            coalesce(sum(e.ed_visits), 0) as ed_visits,
            coalesce(sum(e.office_visits), 0) as office_visits,
            coalesce(sum(e.telehealth_visits), 0) as telehealth_visits
        from months as m
        left join medical as md using (person_id, year_month)
        left join pharmacy as rx using (person_id, year_month)
        left join (
            select person_id, year_month,
                sum(events) filter (where kind = 'inpatient admissions') as admissions,
                sum(events) filter (where kind = 'ED visits') as ed_visits,
                sum(events) filter (where kind = 'office visits') as office_visits,
                sum(events) filter (where kind = 'telehealth visits') as telehealth_visits
            from event_counts
            group by all
        ) as e using (person_id, year_month)
        group by rollup (m.payer_type)
        order by m.payer_type nulls last
        """,
        window_start=window_start,
        as_of=as_of,
    )
    utilisation["payer_type"] = utilisation["payer_type"].fillna("all payers")
    _member_years = utilisation["member_months"] / 12
    utilisation_rates = pd.DataFrame(
        {
            "payer_type": utilisation["payer_type"],
            "member_years": _member_years.round(1),
            "medical_pmpm": (
                utilisation["medical_paid"].astype(float) / utilisation["member_months"]
            ).round(2),
            "pharmacy_pmpm": (
                utilisation["pharmacy_paid"].astype(float) / utilisation["member_months"]
            ).round(2),
            "admissions_per_1000": (
                1000 * utilisation["inpatient_admissions"] / _member_years
            ).round(1),
            "ed_visits_per_1000": (1000 * utilisation["ed_visits"] / _member_years).round(1),
            "office_visits_per_1000": (1000 * utilisation["office_visits"] / _member_years).round(
                1
            ),
            "telehealth_visits_per_1000": (
                1000 * utilisation["telehealth_visits"] / _member_years
            ).round(1),
        }
    )
    _all = utilisation_rates.iloc[-1]
    mo.vstack(
        [
            mo.md(
                f"All payers, {window_start} to {as_of}: **{_all['member_years']:,.1f}** member "
                f"years, medical **\\${_all['medical_pmpm']:,.2f}** PMPM, pharmacy "
                f"**\\${_all['pharmacy_pmpm']:,.2f}** PMPM, **{_all['admissions_per_1000']:,.1f}** "
                f"inpatient admissions, **{_all['ed_visits_per_1000']:,.1f}** ED visits and "
                f"**{_all['office_visits_per_1000']:,.1f}** office visits per 1,000 member years."
            ),
            utilisation_rates,
        ]
    )
    return (utilisation_rates,)


@app.cell
def _(utilisation_rates):
    _long = utilisation_rates.melt(
        id_vars="payer_type",
        value_vars=["admissions_per_1000", "ed_visits_per_1000", "office_visits_per_1000"],
        var_name="kind",
        value_name="per_1000_member_years",
    )
    # One panel per kind of use, each with its own scale (office visits outnumber admissions 30:1).
    px.bar(
        _long,
        x="payer_type",
        y="per_1000_member_years",
        color="payer_type",
        facet_col="kind",
        text_auto=".0f",
        title="Utilisation per 1,000 member years by payer type, last 12 months",
        labels={"payer_type": "", "per_1000_member_years": "per 1,000 member years"},
    ).update_yaxes(matches=None, showticklabels=True).for_each_annotation(
        lambda a: a.update(text=a.text.removeprefix("kind=").replace("_", " "))
    )
    return


@app.cell
def _(con):
    monthly_cost = query(
        con,
        """
        with medical as (
            select person_id, strftime(claim_start_date, '%Y%m') as year_month,
                sum(paid_amount) as paid
            from core.medical_claim_final
            group by all
        )
        select m.month_start_date as month, m.payer_type,
            sum(coalesce(md.paid, 0)) / count(*) as medical_pmpm
        from core.member_months as m
        left join medical as md using (person_id, year_month)
        group by all
        order by month, payer_type
        """,
    )
    px.line(
        monthly_cost,
        x="month",
        y="medical_pmpm",
        color="payer_type",
        title="Medical paid per member per month, by month and payer type",
        labels={"medical_pmpm": "medical paid PMPM ($)", "payer_type": "payer type"},
    )
    return


if __name__ == "__main__":
    app.run()
