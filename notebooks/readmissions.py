"""Readmissions drill-down: 30-day unplanned readmission rates by month, facility, payer and age.

A marimo notebook (`marimo edit notebooks/readmissions.py`; headless:
`python notebooks/readmissions.py`). Reads the warehouse read-only and shows aggregates only.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="popcare: readmissions")

with app.setup:
    import os
    from pathlib import Path

    import duckdb
    import marimo as mo
    import numpy as np
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    # Where `make run` / `popcare run` write the warehouse (pipelines/settings.py DEFAULT_WAREHOUSE);
    # POPCARE_WAREHOUSE overrides it, as it does for the pipeline.
    REPO_ROOT = Path(__file__).resolve().parents[1]
    WAREHOUSE = Path(os.environ.get("POPCARE_WAREHOUSE") or REPO_ROOT / "data" / "warehouse.duckdb")

    # The exclusion reasons of docs/measures/readmissions.md, in the order the rules apply them.
    EXCLUSION_RULES = {
        "transfer_out": "the stay ends in a transfer to another acute hospital",
        "same_day_same_condition_readmission": "merged with a same-day, same-condition stay",
        "died_in_hospital": "died in hospital (discharge status 20, 40-42)",
        "against_medical_advice": "left against medical advice (status 07)",
        "cancer_medical_treatment": "medical treatment of cancer",
        "rehabilitation": "rehabilitation (CCS 254)",
        "psychiatric": "psychiatric principal diagnosis",
        "follow_up_under_30_days": "fewer than 30 days between discharge and the as-of date",
        "not_enrolled_through_follow_up": "not enrolled through the 30 days after discharge",
    }

    def query(con, sql, **params):
        """The result of a query as a pandas DataFrame (every query here is an aggregate)."""
        return con.execute(sql, params or None).df()

    def wilson_interval(successes, trials, z=1.96):
        """95% Wilson score interval of a proportion (sensible for the small counts per group)."""
        successes = np.asarray(successes, dtype=float)
        trials = np.asarray(trials, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = successes / trials
            centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
            half = z * np.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
        return centre - half, centre + half


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Readmissions

    The CMS hospital-wide 30-day **unplanned** readmission measure (HWR), adapted to all payers,
    and the HEDIS PCR-style observed rate, as popcare computes them (definition, deviations from
    CMS and plausibility checks: `docs/measures/readmissions.md`). Sources:
    `marts.readmission_rates` (rates by grouping), `marts.readmission_index_stays` (one row per
    acute stay: index or excluded, and the first admission within 30 days),
    `marts.readmission__stay` (planned status and why) and `marts.readmission_pcr`. Rates are
    observed, not risk-standardised. Only aggregates are shown; facilities appear by NPI (an
    organisation's identifier, not a person's). Small cells are not suppressed.
    """)
    return


@app.cell
def _():
    if not WAREHOUSE.is_file():
        raise FileNotFoundError(
            f"no warehouse at {WAREHOUSE}: run `make run` (or `popcare run`) first, "
            "or set POPCARE_WAREHOUSE to a warehouse file"
        )
    # Read-only: the notebook can never change the warehouse.
    con = duckdb.connect(str(WAREHOUSE), read_only=True)
    return (con,)


@app.cell
def _(con):
    rates = query(
        con,
        "select grouping, group_value, index_stays, readmissions, rate "
        "from marts.readmission_rates order by grouping, group_value",
    )
    _low, _high = wilson_interval(rates["readmissions"], rates["index_stays"])
    rates = rates.assign(ci_low=_low, ci_high=_high)
    overall_rate = rates[rates["grouping"] == "overall"].iloc[0]
    acute_stays = int(
        query(con, "select count(*) as n from marts.readmission_index_stays")["n"].iloc[0]
    )
    mo.md(f"""
    ## Overall

    Of **{acute_stays:,}** acute inpatient stays, **{int(overall_rate["index_stays"]):,}** are
    index stays and **{int(overall_rate["readmissions"]):,}** of them were followed by an
    unplanned readmission within 30 days: an observed rate of
    **{100 * overall_rate["rate"]:.1f}%** (95% Wilson interval
    {100 * overall_rate["ci_low"]:.1f}–{100 * overall_rate["ci_high"]:.1f}%). For scale, HCUP's
    all-payer all-cause 30-day rate is 13.9 per 100 index stays (Statistical Brief #248), which
    counts planned readmissions too.
    """)
    return (rates,)


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Which stays are index stays

    Every acute stay of `core.inpatient_stay` gets a row in `marts.readmission_index_stays`: an
    index stay, or the first exclusion that applies, in the order below (*Index stays* in
    `docs/measures/readmissions.md`).
    """)
    return


@app.cell
def _(con):
    _counts = query(
        con,
        """
        select coalesce(exclusion_reason, 'index stay') as outcome, count(*) as stays
        from marts.readmission_index_stays
        group by all
        """,
    )
    _order = ["index stay", *EXCLUSION_RULES]
    exclusion_counts = (
        pd.DataFrame({"outcome": _order})
        .merge(_counts, on="outcome", how="outer")
        .fillna({"stays": 0})
        .assign(
            stays=lambda d: d["stays"].astype(int),
            rule=lambda d: d["outcome"].map(EXCLUSION_RULES).fillna("counted in the rate"),
        )
    )
    exclusion_counts["order"] = exclusion_counts["outcome"].map(
        {name: i for i, name in enumerate(_order)}
    )
    exclusion_counts = exclusion_counts.sort_values("order").drop(columns="order")
    mo.vstack(
        [
            px.bar(
                exclusion_counts[exclusion_counts["outcome"] != "index stay"],
                x="stays",
                y="outcome",
                orientation="h",
                text_auto=True,
                hover_data=["rule"],
                title="Acute stays that are not index stays, by exclusion reason",
                labels={"outcome": "", "stays": "acute stays"},
            ).update_yaxes(autorange="reversed"),
            exclusion_counts.reset_index(drop=True),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## By discharge month

    `discharge_month` grouping: index stays by the month of the index discharge. The last month
    before the as-of date has few index stays, because stays discharged less than 30 days before
    it are excluded (`follow_up_under_30_days`). The error bars are 95% Wilson intervals.
    """)
    return


@app.cell
def _(rates):
    _monthly = rates[rates["grouping"] == "discharge_month"].sort_values("group_value")
    _fig = make_subplots(specs=[[{"secondary_y": True}]])
    _fig.add_trace(
        go.Bar(
            x=_monthly["group_value"],
            y=_monthly["index_stays"],
            name="index stays",
            marker_color="#c7d4e8",
        ),
        secondary_y=False,
    )
    _fig.add_trace(
        go.Scatter(
            x=_monthly["group_value"],
            y=_monthly["rate"],
            name="readmission rate",
            mode="lines+markers",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": _monthly["ci_high"] - _monthly["rate"],
                "arrayminus": _monthly["rate"] - _monthly["ci_low"],
                "thickness": 1,
            },
        ),
        secondary_y=True,
    )
    _fig.update_layout(title="Index stays and 30-day unplanned readmission rate by discharge month")
    _fig.update_yaxes(title_text="index stays", secondary_y=False)
    _fig.update_yaxes(title_text="readmission rate", tickformat=".0%", secondary_y=True)
    _fig
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## By facility, payer and age band

    `facility`: the discharging hospital's NPI (a transfer chain is attributed to the hospital
    that discharged the patient). `payer`: payer type at discharge. `age_band`: age at discharge
    (0-17, 18-44, 45-64, 65-74, 75-84, 85+). CMS's own measure covers Medicare 65+ only; the
    Medicare rows here are the closest comparison (deviation 1 in the documentation).
    """)
    return


@app.cell
def _(rates):
    _groups = rates[rates["grouping"].isin(["facility", "payer", "age_band"])].copy()
    _groups["label"] = [
        f"{r:.1%} ({n}/{d})"
        for r, n, d in zip(
            _groups["rate"], _groups["readmissions"], _groups["index_stays"], strict=True
        )
    ]
    px.bar(
        _groups,
        x="group_value",
        y="rate",
        facet_col="grouping",
        text="label",
        error_y=_groups["ci_high"] - _groups["rate"],
        error_y_minus=_groups["rate"] - _groups["ci_low"],
        category_orders={"grouping": ["facility", "payer", "age_band"]},
        title="30-day unplanned readmission rate (readmissions / index stays, 95% interval)",
        labels={"group_value": "", "rate": "readmission rate"},
    ).update_xaxes(matches=None).update_yaxes(tickformat=".0%")
    return


@app.cell
def _(rates):
    rates[rates["grouping"] != "discharge_month"].assign(
        rate=lambda d: (100 * d["rate"]).round(1),
        ci_low=lambda d: (100 * d["ci_low"]).round(1),
        ci_high=lambda d: (100 * d["ci_high"]).round(1),
    ).rename(columns={"rate": "rate_pct", "ci_low": "ci_low_pct", "ci_high": "ci_high_pct"})
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Days to readmission, planned and unplanned

    For each index stay, `marts.readmission_index_stays` describes the **first** acute admission
    0–30 days after discharge, planned or not (`days_to_readmission`, `readmission_planned`). Only
    that first admission matters (CMS): an unplanned one makes the index stay readmitted, a
    planned one does not, even if an unplanned admission follows. Planned means the CMS Planned
    Readmission Algorithm v4.0 (always-planned procedures and diagnoses; potentially planned
    procedures for a non-acute principal diagnosis); `marts.readmission__stay.planned_reason` says
    which rule applied.
    """)
    return


@app.cell
def _(con):
    days_to_readmission = query(
        con,
        """
        select days_to_readmission,
            case when readmission_planned then 'planned' else 'unplanned' end as readmission,
            count(*) as index_stays
        from marts.readmission_index_stays
        where is_index and days_to_readmission is not null
        group by all
        order by days_to_readmission
        """,
    )
    _median = np.repeat(
        days_to_readmission["days_to_readmission"], days_to_readmission["index_stays"]
    ).median()
    mo.vstack(
        [
            mo.md(
                f"**{int(days_to_readmission['index_stays'].sum()):,}** index stays had an "
                f"acute admission within 30 days; median **{_median:.0f}** days after discharge."
            ),
            px.bar(
                days_to_readmission,
                x="days_to_readmission",
                y="index_stays",
                color="readmission",
                color_discrete_map={"unplanned": "#d62728", "planned": "#1f77b4"},
                title="Days from index discharge to the first acute admission (0-30)",
                labels={"days_to_readmission": "days after discharge", "index_stays": "stays"},
            ).update_xaxes(range=[-0.5, 30.5], dtick=5),
        ]
    )
    return


@app.cell
def _(con):
    planned = query(
        con,
        """
        select
            case when i.readmission_planned then 'planned' else 'unplanned' end as readmission,
            coalesce(s.planned_reason, '–') as planned_reason,
            count(*) as first_readmissions
        from marts.readmission_index_stays as i
        left join marts.readmission__stay as s on s.stay_id = i.readmission_stay_id
        where i.is_index and i.readmission_stay_id is not null
        group by all
        order by readmission, planned_reason
        """,
    )
    _total = int(planned["first_readmissions"].sum())
    _planned = int(planned.loc[planned["readmission"] == "planned", "first_readmissions"].sum())
    mo.vstack(
        [
            mo.md(
                f"Planned share of first readmissions: **{_planned:,}** of **{_total:,}** "
                f"({100 * _planned / _total if _total else 0:.1f}%). Horwitz et al. (2015) found "
                "7.8% of readmissions planned in Medicare data; why the generated sample has "
                "fewer is explained under *Plausibility* in `docs/measures/readmissions.md`."
            ),
            planned,
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## HEDIS PCR-style observed rate

    `marts.readmission_pcr`, by age at discharge, for the measurement period: acute **and
    observation** index stays discharged January 1 to December 1, planned readmissions removed
    first (so an unplanned stay after a planned one counts), no risk adjustment and no O/E
    ratio (NCQA's weights are licensed). See *HEDIS PCR-style observed rate* in
    `docs/measures/readmissions.md`.
    """)
    return


@app.cell
def _(con):
    query(
        con,
        "select age_group, index_stays, readmissions, round(100 * observed_rate, 1) "
        "as observed_rate_pct from marts.readmission_pcr order by age_group",
    )
    return


if __name__ == "__main__":
    app.run()
