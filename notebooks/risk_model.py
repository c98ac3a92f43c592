"""Risk model: validation performance against baselines, calibration, subgroup audit, and tiers.

A marimo notebook (`marimo edit notebooks/risk_model.py`; headless: `python notebooks/risk_model.py`).
Reads the warehouse read-only and the model registry beside it; shows aggregates only.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="popcare: risk model")

with app.setup:
    import os
    from pathlib import Path

    import duckdb
    import marimo as mo
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go

    from models.registry import list_models, registry_dir

    # Where `make run` / `popcare run` write the warehouse (pipelines/settings.py DEFAULT_WAREHOUSE);
    # POPCARE_WAREHOUSE overrides it, as it does for the pipeline.
    REPO_ROOT = Path(__file__).resolve().parents[1]
    WAREHOUSE = Path(os.environ.get("POPCARE_WAREHOUSE") or REPO_ROOT / "data" / "warehouse.duckdb")

    # The names models/card.py gives the scores compared on the validation date.
    SCORE_NAMES = {
        "model": "model (gradient boosting, calibrated)",
        "logistic_reference": "logistic regression reference",
        "cms_hcc_v28": "CMS-HCC V28 raw score",
        "prior_year_acute_use": "prior-year acute use count",
        "lace": "LACE (last hospitalisation)",
    }
    TIERS = ["complex", "high", "rising", "low"]

    def query(con, sql, **params):
        """The result of a query as a pandas DataFrame (every query here is an aggregate)."""
        return con.execute(sql, params or None).df()

    def metric_table(block):
        """One row per score and metric of a validation block: value and 95% bootstrap interval."""
        rows = []
        for score, metrics in block["scores"].items():
            for metric, entry in metrics.items():
                rows.append(
                    {
                        "score": SCORE_NAMES.get(score, score),
                        "metric": metric,
                        "value": entry.get("value"),
                        "low": entry.get("low"),
                        "high": entry.get("high"),
                    }
                )
        return pd.DataFrame(rows)


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Risk model

    How well the risk score that ranks the outreach lists performs, whether its probabilities
    can be taken at face value, whether it works equally for every group, and how today's scores
    fall into tiers. The model predicts an unplanned acute admission, ED visit or observation
    stay in the next 180 days (`acute_use_180d`); design, features and validation are in
    `docs/risk-model.md`, the published card in `docs/model-card.md`. Validation figures come
    from the registered model's `metadata.json` in the registry beside the warehouse
    (`WAREHOUSE.models/VERSION/`, `models/registry.py`), computed on a later date than any
    training row (`models/evaluate.py`); today's scores come from `marts.risk_scores`. Only
    aggregates are shown.
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
    scoring = query(
        con,
        """
        select model_version, max(scoring_date) as scoring_date, count(*) as people
        from marts.risk_scores
        group by all
        order by people desc
        """,
    )
    scoring_version = scoring["model_version"].iloc[0] if len(scoring) else None
    _registered = list_models(WAREHOUSE)
    # The model that produced today's scores; the newest registered model when none matches.
    _matching = [m for m in _registered if m.get("version") == scoring_version]
    meta = (_matching or _registered or [None])[-1]
    mo.stop(
        meta is None,
        mo.md(f"""
        **No registered model** in `{registry_dir(WAREHOUSE)}`: today's scores
        (`model_version = {scoring_version}`) come from the baseline fallback (CMS-HCC raw score +
        prior acute use, rank-scaled, not a probability; *Scoring, tiers and the fallback* in
        `docs/risk-model.md`). Train with `popcare train` to see validation metrics here.
        """),
    )
    return meta, scoring, scoring_version


@app.cell
def _(meta, scoring, scoring_version):
    _rows = meta["rows"]
    _plan = meta["plan"]
    _validation_rows = _rows["validation"]["rows"]
    _validation_rate = _rows["validation"]["positives"] / _validation_rows
    mo.md(f"""
    ## The model

    - Version **`{meta["version"]}`**, as of {meta["as_of"]}, registered {meta["registered_at"]}
      {
        "(the model behind today's scores)"
        if meta["version"] == scoring_version
        else "(**not** the model behind today's scores: " + str(scoring_version) + ")"
    }.
    - Label `{meta["label"]}`: {meta["label_spec"]["description"]}. Planned stays follow
      `{meta["planned_rule"]}`.
    - Temporal design: fitting dates {", ".join(_plan["fit_dates"] or [])}; calibration date
      {", ".join(_plan["calibration_dates"] or [])}; validation date
      {", ".join(_plan["validation_dates"] or [])}.
    - Rows: fitting {_rows["fit"]["rows"]:,} ({_rows["fit"]["positives"]:,} positive),
      calibration {_rows["calibration"]["rows"]:,}, validation **{_validation_rows:,}**
      ({_rows["validation"]["positives"]:,} positive, {100 * _validation_rate:.1f}%).
    - Today: {int(scoring["people"].sum()):,} people scored on
      {scoring["scoring_date"].max():%Y-%m-%d}.
    - Model card: `{Path(meta["path"]).name}/model-card.md` in `{registry_dir(WAREHOUSE)}`.
    """)
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Discrimination: the model against the baselines

    On the validation date, every score is compared on the same people: the model, a logistic
    regression reference, and the two scores a health system could use instead: the CMS-HCC V28
    raw risk score and last year's count of acute use (admissions + ED visits + observation
    stays). **AUROC**: the chance that a random person with the outcome scores above a random
    person without it (0.5 = chance). **AUPRC**: average precision, against a chance level equal
    to the outcome rate. Bars are 95% percentile bootstrap intervals (200 resamples).
    """)
    return


@app.cell
def _(meta):
    overall_metrics = metric_table(meta["validation"]["overall"])
    _ranking = overall_metrics[overall_metrics["metric"].isin(["auroc", "auprc"])]
    _model = _ranking[_ranking["score"] == SCORE_NAMES["model"]].set_index("metric")["value"]
    model_auroc = float(_model["auroc"])
    model_auprc = float(_model["auprc"])
    mo.vstack(
        [
            mo.md(f"Model AUROC **{model_auroc:.3f}**, AUPRC **{model_auprc:.3f}**."),
            px.bar(
                _ranking,
                x="score",
                y="value",
                facet_col="metric",
                error_y=_ranking["high"] - _ranking["value"],
                error_y_minus=_ranking["value"] - _ranking["low"],
                text_auto=".3f",
                title="AUROC and AUPRC on the validation date (95% bootstrap interval)",
                labels={"score": "", "value": ""},
            ).update_yaxes(matches=None, rangemode="tozero"),
        ]
    )
    return model_auprc, model_auroc, overall_metrics


@app.cell
def _(overall_metrics):
    overall_metrics.assign(
        cell=lambda d: [
            f"{v:.3f} ({lo:.3f}–{hi:.3f})" if pd.notna(lo) and pd.notna(hi) else f"{v:.3f}"
            for v, lo, hi in zip(d["value"], d["low"], d["high"], strict=True)
        ]
    ).pivot(index="score", columns="metric", values="cell")
    return


@app.cell
def _(meta):
    _rows = []
    for _block_name in ("overall", "discharged"):
        _block = meta["validation"].get(_block_name) or {}
        for _score, _diff in (_block.get("differences") or {}).items():
            for _metric in ("auroc", "auprc"):
                _d = _diff[_metric]
                _rows.append(
                    {
                        "population": _block_name,
                        "comparator": SCORE_NAMES.get(_score, _score),
                        "metric": _metric,
                        "model minus comparator": _d["value"],
                        "low": _d["low"],
                        "high": _d["high"],
                        "model beats it": (
                            "reference, not a baseline"
                            if _score == "logistic_reference"
                            else ("yes" if _d["low"] is not None and _d["low"] > 0 else "no")
                        ),
                    }
                )
    mo.vstack(
        [
            mo.md(
                "**Paired differences** (same bootstrap resamples for every score): the model "
                "beats a baseline when the whole interval of the difference lies above 0. "
                "`discharged` is the subgroup with a hospital discharge in the 12 months before "
                f"the validation date ({meta['validation'].get('discharged_rows', 0):,} people), "
                "where the model is compared with LACE."
            ),
            pd.DataFrame(_rows),
        ]
    )
    return


@app.cell
def _(overall_metrics):
    _top = overall_metrics[overall_metrics["metric"].str.contains("_top_")].copy()
    _top[["kind", "share"]] = _top["metric"].str.extract(r"(precision|recall)_top_(\d+)pct")
    _top["share"] = _top["share"].astype(int).map(lambda k: f"top {k}%")
    mo.vstack(
        [
            mo.md(
                "**Precision and recall of a list**: of the top 1 / 5 / 20% by score (the "
                "complex, complex + high, and complex + high + rising tiers), the share who had "
                "the outcome (precision) and the share of all outcomes the list catches (recall)."
            ),
            px.bar(
                _top,
                x="share",
                y="value",
                color="score",
                barmode="group",
                facet_col="kind",
                error_y=_top["high"] - _top["value"],
                error_y_minus=_top["value"] - _top["low"],
                category_orders={"share": ["top 1%", "top 5%", "top 20%"]},
                labels={"share": "", "value": ""},
                title="Precision and recall at list cut-offs, validation date",
            ).update_yaxes(tickformat=".0%"),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Calibration

    A calibrated score means what it says: of 100 people scored 0.20, about 20 have the outcome.
    The model is Platt-scaled on the calibration date; the baselines are recalibrated there by a
    one-variable logistic, so the comparison is fair. Below: mean predicted probability against
    the observed outcome rate per score decile on the validation date (the dashed line is
    perfect calibration), then calibration slope (1 = ideal; below 1, scores too extreme),
    calibration-in-the-large intercept (0 = ideal) and observed / expected events.
    """)
    return


@app.cell
def _(meta):
    _curves = pd.concat(
        [
            pd.DataFrame(points).assign(
                score=SCORE_NAMES.get(name, name), decile=range(1, len(points) + 1)
            )
            for name, points in meta["validation"]["reliability"].items()
        ],
        ignore_index=True,
    )
    _top = float(max(_curves["predicted"].max(), _curves["observed"].max())) * 1.05
    _fig = px.line(
        _curves,
        x="predicted",
        y="observed",
        color="score",
        markers=True,
        hover_data=["decile", "rows"],
        title="Reliability by score decile, validation date",
        labels={"predicted": "mean predicted probability", "observed": "observed rate"},
    )
    _fig.add_trace(
        go.Scatter(
            x=[0, _top],
            y=[0, _top],
            mode="lines",
            line={"dash": "dash", "color": "grey"},
            name="perfect calibration",
        )
    )
    _fig.update_xaxes(range=[0, _top], tickformat=".0%").update_yaxes(
        range=[0, _top], tickformat=".0%"
    )
    calibration_deciles = _curves[_curves["score"] == SCORE_NAMES["model"]][
        ["decile", "predicted", "observed", "rows"]
    ].reset_index(drop=True)
    _fig
    return (calibration_deciles,)


@app.cell
def _(calibration_deciles, overall_metrics):
    _calibration = overall_metrics[
        overall_metrics["metric"].isin(
            ["calibration_slope", "calibration_intercept", "observed_expected", "brier"]
        )
    ].pivot(index="score", columns="metric", values="value")
    mo.hstack(
        [
            calibration_deciles.assign(
                predicted=lambda d: (100 * d["predicted"]).round(1),
                observed=lambda d: (100 * d["observed"]).round(1),
            ).rename(columns={"predicted": "predicted_pct", "observed": "observed_pct"}),
            _calibration.round(3),
        ],
        widths="equal",
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Subgroup audit

    The same validation metrics per group of sex, age band, race, ethnicity and payer type
    (`models/evaluate.py`, `subgroup_audit`). Race and ethnicity are not model inputs; they are
    audited. Observed / expected (O/E) near 1 means the score neither under- nor over-predicts
    for the group. Metrics, with bootstrap intervals, need at least 100 rows and 10 events in
    the group; smaller groups show only their size, outcome rate and mean score. Selection rates
    are the share of each group in each tier at the whole population's cut-offs.
    """)
    return


@app.cell
def _(meta):
    _rows = []
    for _attribute, _groups in meta["validation"]["audit"]["attributes"].items():
        for _group, _g in _groups.items():
            _m = _g.get("metrics") or {}
            _oe = _m.get("observed_expected") or {}
            _auroc = _m.get("auroc") or {}
            _rows.append(
                {
                    "attribute": _attribute,
                    "group": _group,
                    "rows": _g["rows"],
                    "outcome_rate": _g["prevalence"],
                    "mean_score": _g["mean_score"],
                    "oe": _oe.get("value"),
                    "oe_low": _oe.get("low"),
                    "oe_high": _oe.get("high"),
                    "auroc": _auroc.get("value"),
                    **{f"selected_{t}": _g["selection_rate"].get(t) for t in TIERS},
                }
            )
    audit = pd.DataFrame(_rows)
    _shown = audit.dropna(subset=["oe"])
    px.scatter(
        _shown,
        x="oe",
        y="group",
        facet_col="attribute",
        facet_col_wrap=3,
        error_x=_shown["oe_high"] - _shown["oe"],
        error_x_minus=_shown["oe"] - _shown["oe_low"],
        hover_data=["rows", "outcome_rate", "mean_score", "auroc"],
        title="Observed / expected events by group, validation date (1 = well calibrated)",
        labels={"oe": "observed / expected", "group": ""},
        height=650,
    ).add_vline(x=1, line_dash="dash", line_color="grey").update_yaxes(matches=None)
    return (audit,)


@app.cell
def _(audit):
    audit.round(3)
    return


@app.cell
def _(meta):
    _need = pd.DataFrame(meta["validation"]["audit"]["condition_count_by_decile"].get("race", []))
    mo.stop(_need.empty)
    # Cells under 20 people are left out, as on the model card.
    _need = _need[_need["rows"] >= 20]
    mo.vstack(
        [
            mo.md(
                "**Need at equal score** (Obermeyer et al., Science 2019): mean number of "
                "chronic conditions on record at the scoring date, by score decile "
                "(10 = highest) and race, cells of 20 people or more. At the same decile, a group "
                "with consistently more conditions would be under-ranked by the score: the "
                "signature of a biased label."
            ),
            px.line(
                _need,
                x="decile",
                y="chronic_condition_count",
                color="group",
                markers=True,
                hover_data=["rows", "realised_condition_count"],
                title="Mean chronic conditions by score decile and race, validation date",
                labels={"chronic_condition_count": "mean chronic conditions", "group": "race"},
            ),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Today's scores by tier

    `marts.risk_scores`: one calibrated probability per person alive and enrolled on the as-of
    date (or known only to the EHR). Tiers by rank: complex = top 1%, high = next 4%, rising =
    next 15%, low = the rest (`POPCARE_RISK_TIERS`). The sum of the probabilities in a tier is
    the number of acute events the model expects from it in the next 180 days. The histogram is
    binned in the warehouse (0.01-wide bins), so no individual score leaves it.
    """)
    return


@app.cell
def _(con):
    tiers = query(
        con,
        """
        select tier, count(*) as people, min(score) as min_score, median(score) as median_score,
            max(score) as max_score, sum(score) as expected_events_180d
        from marts.risk_scores
        group by all
        """,
    )
    tiers["order"] = tiers["tier"].map({t: i for i, t in enumerate(TIERS)})
    tiers = tiers.sort_values("order").drop(columns="order").reset_index(drop=True)
    tiers["share"] = tiers["people"] / tiers["people"].sum()
    tiers.round(3)
    return (tiers,)


@app.cell
def _(con, tiers):
    _bins = query(
        con,
        """
        select tier, floor(score * 100) / 100 as score_bin, count(*) as people
        from marts.risk_scores
        group by all
        order by score_bin
        """,
    )
    px.bar(
        _bins,
        x="score_bin",
        y="people",
        color="tier",
        category_orders={"tier": TIERS},
        title=f"Risk score distribution by tier ({int(tiers['people'].sum()):,} people)",
        labels={"score_bin": "score (0.01 bins)", "people": "people"},
    ).update_layout(bargap=0.05)
    return


@app.cell
def _(con):
    _by_payer = query(
        con,
        """
        select coalesce(f.payer_type, 'no eligibility') as payer_type, s.tier, count(*) as people
        from marts.risk_scores as s
        left join marts.risk_features as f
            on s.person_id = f.person_id and s.scoring_date = f.scoring_date
        group by all
        """,
    )
    _by_payer["share"] = _by_payer["people"] / _by_payer.groupby("payer_type")["people"].transform(
        "sum"
    )
    px.bar(
        _by_payer,
        x="payer_type",
        y="share",
        color="tier",
        category_orders={"tier": TIERS},
        hover_data=["people"],
        title="Tiers within each payer type today (share of the payer type's people)",
        labels={"payer_type": "payer type", "share": "share of the payer's people"},
    ).update_yaxes(tickformat=".0%")
    return


if __name__ == "__main__":
    app.run()
