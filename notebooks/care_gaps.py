"""Care gaps: quality-measure rates by attributed practice and other strata, and open gaps.

A marimo notebook (`marimo edit notebooks/care_gaps.py`; headless: `python notebooks/care_gaps.py`).
Reads the warehouse read-only and shows aggregates only.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="popcare: care gaps")

with app.setup:
    import os
    import re
    from pathlib import Path

    import duckdb
    import marimo as mo
    import pandas as pd
    import plotly.express as px
    import yaml

    # Where `make run` / `popcare run` write the warehouse (pipelines/settings.py DEFAULT_WAREHOUSE);
    # POPCARE_WAREHOUSE overrides it, as it does for the pipeline.
    REPO_ROOT = Path(__file__).resolve().parents[1]
    WAREHOUSE = Path(os.environ.get("POPCARE_WAREHOUSE") or REPO_ROOT / "data" / "warehouse.duckdb")
    MEASURE_DOCS = REPO_ROOT / "docs" / "measures"
    MEASURE_DEFINITIONS = REPO_ROOT / "measures" / "definitions"

    def query(con, sql, **params):
        """The result of a query as a pandas DataFrame (every query here is an aggregate)."""
        return con.execute(sql, params or None).df()

    def scalar(con, sql, **params):
        """The single value a query returns."""
        return con.execute(sql, params or None).fetchall()[0][0]


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Care gaps

    How the population does on popcare's fourteen quality measures, practice by practice, and
    how many gaps a coordinator can still close. Sources: `marts.measure_rates` (rates overall
    and by stratum) and `marts.measure_patient` (one row per person, or per discharge, and
    measure; `gap_open`). What each measure counts, and where popcare departs from the
    specification, is on its page under `docs/measures/` (index: `docs/measures/README.md`).
    Only aggregates are shown. Small cells are not suppressed: apply your own small-cell rule
    before publishing.
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
def _():
    # Measure titles from the definitions; the documentation page is the one whose heading names
    # the measure id (fuh30 shares fuh7.md, fu_discharge_14 shares fu_discharge_7.md).
    _titles = {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8")).get("title", path.stem)
        for path in sorted(MEASURE_DEFINITIONS.glob("*.yml"))
    }
    _pages = {}
    for _page in sorted(MEASURE_DOCS.glob("*.md")):
        _heading = _page.read_text(encoding="utf-8").splitlines()[0]
        for _id in re.findall(r"`([a-z0-9_]+)`", _heading):
            _pages.setdefault(_id, f"docs/measures/{_page.name}")
    measure_info = pd.DataFrame(
        {
            "measure_id": list(_titles),
            "title": list(_titles.values()),
            "documentation": [_pages.get(m, "docs/measures/README.md") for m in _titles],
        }
    )
    return (measure_info,)


@app.cell
def _(con, measure_info):
    period_start, period_end = query(
        con, "select min(period_start) as s, max(period_end) as e from marts.measure_rates"
    ).iloc[0]
    overall = query(
        con,
        """
        with gaps as (
            select measure_id, count(*) filter (where gap_open) as open_gaps
            from marts.measure_patient
            group by all
        )
        select r.measure_id, r.denominator, r.exclusions, r.numerator, r.rate, r.rate_unit,
            r.higher_is_better, coalesce(g.open_gaps, 0) as open_gaps
        from marts.measure_rates as r
        left join gaps as g using (measure_id)
        where r.stratum = 'overall'
        order by r.measure_id
        """,
    ).merge(measure_info, on="measure_id", how="left")
    total_open_gaps = int(overall["open_gaps"].sum())
    people_with_gaps = scalar(
        con, "select count(distinct person_id) from marts.measure_patient where gap_open"
    )
    mo.md(f"""
    ## Overall rates, measurement period {period_start:%Y-%m-%d} to {period_end:%Y-%m-%d}

    `rate = numerator / (denominator − exclusions)` (eCQM convention: the denominator counts the
    exclusions); EDU is ED visits per 1,000 member years, CMS122 is inverse (lower is better).
    **{total_open_gaps:,}** gaps are open across all measures, held by **{people_with_gaps:,}**
    people: eligible, not excluded, numerator not met, still closable before the measure's
    deadline, and alive (`gap_open`, `docs/measures/README.md`, *Outputs*).
    """)
    return overall, period_end, period_start


@app.cell
def _(overall):
    overall[
        [
            "measure_id",
            "title",
            "denominator",
            "exclusions",
            "numerator",
            "rate",
            "rate_unit",
            "higher_is_better",
            "open_gaps",
            "documentation",
        ]
    ]
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Rates by attributed practice

    The `practice` stratum of `marts.measure_rates`: the attributed practice of the person's latest
    attribution month in the period (`staging.provider_attribution`, popcare's custom attribution,
    else the payer's), `unattributed` otherwise. Proportion measures only (EDU is a utilisation
    rate and is shown apart below). A cell reads rate (numerator / eligible, where eligible =
    denominator − exclusions); practices with few eligible people swing widely. The colour is
    the rate, or 1 − rate for the inverse CMS122, so green is better everywhere.
    """)
    return


@app.cell
def _(con):
    by_practice = query(
        con,
        """
        select measure_id, stratum_value as practice, denominator - exclusions as eligible,
            numerator, rate, higher_is_better
        from marts.measure_rates
        where stratum = 'practice' and rate_unit = 'proportion'
        order by measure_id, practice
        """,
    )
    # Colour by performance (green = better), so the inverse CMS122 reads like the others; the
    # cell text is the measure's own rate.
    _performance = by_practice.assign(
        performance=lambda d: d["rate"].where(d["higher_is_better"], 1 - d["rate"])
    ).pivot(index="measure_id", columns="practice", values="performance")
    _label = (
        by_practice.assign(
            label=lambda d: [
                "–" if pd.isna(r) else f"{100 * r:.0f}% ({n:.0f}/{e:.0f})"
                for r, n, e in zip(d["rate"], d["numerator"], d["eligible"], strict=True)
            ]
        )
        .pivot(index="measure_id", columns="practice", values="label")
        .reindex(index=_performance.index, columns=_performance.columns)
        .fillna("–")
    )
    px.imshow(
        _performance,
        color_continuous_scale="RdYlGn",
        zmin=0,
        zmax=1,
        aspect="auto",
        title="Measure rate by attributed practice (colour: green = better; CMS122 is inverse)",
        labels={"color": "performance", "x": "practice", "y": "measure"},
    ).update_traces(text=_label.values, texttemplate="%{text}")
    return (by_practice,)


@app.cell
def _(by_practice):
    px.bar(
        by_practice,
        x="measure_id",
        y="rate",
        color="practice",
        barmode="group",
        hover_data=["eligible", "numerator"],
        title="Measure rates by attributed practice",
        labels={"measure_id": "measure"},
    ).update_yaxes(tickformat=".0%")
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Rates by any stratum

    Every stratum of `marts.measure_rates` partitions the overall row: `age_band` (at period end,
    in the measure's bands), `sex`, `race`, `ethnicity` (`core.person`), `payer` (payer type of
    the latest enrolment span overlapping the period) and `practice`. Pick one:
    """)
    return


@app.cell
def _(con):
    _strata = query(
        con,
        "select distinct stratum from marts.measure_rates where stratum <> 'overall' order by 1",
    )["stratum"].tolist()
    stratum_picker = mo.ui.dropdown(
        options=_strata, value="payer" if "payer" in _strata else _strata[0], label="stratum"
    )
    stratum_picker
    return (stratum_picker,)


@app.cell
def _(con, stratum_picker):
    by_stratum = query(
        con,
        """
        select measure_id, stratum_value, denominator - exclusions as eligible, numerator, rate
        from marts.measure_rates
        where stratum = $stratum and rate_unit = 'proportion'
        order by measure_id, stratum_value
        """,
        stratum=stratum_picker.value,
    )
    px.bar(
        by_stratum,
        x="measure_id",
        y="rate",
        color="stratum_value",
        barmode="group",
        hover_data=["eligible", "numerator"],
        title=f"Measure rates by {stratum_picker.value}",
        labels={"measure_id": "measure", "stratum_value": stratum_picker.value},
    ).update_yaxes(tickformat=".0%")
    return


@app.cell
def _(con):
    edu = query(
        con,
        """
        select stratum, stratum_value, denominator as member_years, numerator as ed_visits, rate
        from marts.measure_rates
        where measure_id = 'edu' and stratum in ('overall', 'payer', 'practice', 'age_band')
        order by stratum, stratum_value
        """,
    )
    mo.vstack(
        [
            mo.md(
                "**EDU**: ED visits per 1,000 member years (observed; `docs/measures/edu.md`). "
                "A utilisation rate, so it has no gaps."
            ),
            px.bar(
                edu[edu["stratum"] != "overall"],
                x="stratum_value",
                y="rate",
                facet_col="stratum",
                text_auto=".0f",
                title="ED visits per 1,000 member years",
                labels={"stratum_value": "", "rate": "per 1,000 member years"},
            ).update_xaxes(matches=None),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Open gaps

    Count of `marts.measure_patient` rows with `gap_open`: what the outreach lists act on. The
    practice split uses the same attribution rule as the rates' `practice` stratum
    (`sql/marts/measure_rates.sql`, step 1), so each practice's bars add up to the measure's total.
    Follow-up measures (`fu_discharge_*`, `fuh*`) close within days of a discharge, so their open
    gaps are few on any one day.
    """)
    return


@app.cell
def _(con, period_end, period_start):
    gaps_by_practice = query(
        con,
        """
        with attribution as (
            select
                person_id,
                coalesce(
                    nullif(trim(custom_attributed_provider_practice), ''),
                    nullif(trim(payer_attributed_provider_practice), '')
                ) as practice,
                row_number() over (partition by person_id order by year_month desc) as recency
            from staging.provider_attribution
            where year_month between strftime($period_start, '%Y%m')
                and strftime($period_end, '%Y%m')
                and coalesce(
                    nullif(trim(custom_attributed_provider_practice), ''),
                    nullif(trim(payer_attributed_provider_practice), '')
                ) is not null
        )
        select mp.measure_id, coalesce(a.practice, 'unattributed') as practice,
            count(*) as open_gaps
        from marts.measure_patient as mp
        left join attribution as a on mp.person_id = a.person_id and a.recency = 1
        where mp.gap_open
        group by all
        order by mp.measure_id, practice
        """,
        period_start=period_start,
        period_end=period_end,
    )
    px.bar(
        gaps_by_practice,
        x="measure_id",
        y="open_gaps",
        color="practice",
        text_auto=True,
        title="Open gaps per measure, by attributed practice",
        labels={"measure_id": "measure", "open_gaps": "open gaps"},
    )
    return (gaps_by_practice,)


@app.cell
def _(gaps_by_practice):
    gaps_by_practice.pivot_table(
        index="measure_id",
        columns="practice",
        values="open_gaps",
        aggfunc="sum",
        fill_value=0,
        margins=True,
        margins_name="total",
    )
    return


@app.cell
def _(con):
    gaps_per_person = query(
        con,
        """
        with per_person as (
            select person_id, count(*) as open_gaps
            from marts.measure_patient
            where gap_open
            group by all
        )
        select
            case when open_gaps >= 4 then '4+' else cast(open_gaps as varchar) end
                as open_gaps,
            count(*) as people
        from per_person
        group by all
        order by open_gaps
        """,
    )
    px.bar(
        gaps_per_person,
        x="open_gaps",
        y="people",
        text_auto=True,
        title="People by number of open gaps (people with at least one)",
        labels={"open_gaps": "open gaps"},
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Exclusions

    Why people in a denominator were excluded (`exclusion_reason`, the first exclusion met in the
    definition's order), per measure.
    """)
    return


@app.cell
def _(con):
    exclusions = query(
        con,
        """
        select measure_id, exclusion_reason, count(*) as units
        from marts.measure_patient
        where excluded
        group by all
        order by measure_id, units desc
        """,
    )
    px.bar(
        exclusions,
        x="units",
        y="measure_id",
        color="exclusion_reason",
        orientation="h",
        title="Exclusions per measure and reason",
        labels={"measure_id": "measure", "units": "excluded units"},
    )
    return


if __name__ == "__main__":
    app.run()
