"""The model card (docs/model-card.md) and its calibration plot, regenerated from a model's metadata.

Written beside every registered model (``<warehouse>.models/<version>/model-card.md``) and, when
asked, to the repository's docs/ (``bench/train_model.py`` does this for the published card). The
card is a pure function of the metadata: the same model gives the same card. It holds counts,
rates and metrics only; subgroup rows are attribute categories, never people.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

CARD_FILE = "model-card.md"
PLOT_FILE = "model-card-calibration.svg"

_NAMES = {
    "model": "**Model** (gradient boosting, calibrated)",
    "logistic_reference": "Logistic regression reference",
    "cms_hcc_v28": "CMS-HCC V28 raw score",
    "prior_year_acute_use": "Prior-year acute use count",
    "lace": "LACE (last hospitalisation)",
}
_COLOURS = {
    "model": "#1f77b4",
    "logistic_reference": "#9467bd",
    "cms_hcc_v28": "#d62728",
    "prior_year_acute_use": "#2ca02c",
}


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _ci(entry: dict[str, Any] | None, digits: int = 3) -> str:
    if not entry or entry.get("value") is None:
        return "–"
    low, high = entry.get("low"), entry.get("high")
    if low is None or high is None:
        return _num(entry["value"], digits)
    return f"{_num(entry['value'], digits)} ({_num(low, digits)}–{_num(high, digits)})"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def calibration_svg(reliability: dict[str, list[dict[str, float]]], title: str) -> str:
    """A reliability diagram (mean predicted vs observed rate by score decile) as plain SVG."""
    width, height, margin = 520, 460, 60
    points = [p for name in _COLOURS for p in reliability.get(name, [])]
    top = max([0.05] + [max(p["predicted"], p["observed"]) for p in points])
    top = min(1.0, round(top * 1.1 + 0.005, 2))

    def sx(v: float) -> float:
        return margin + (width - 2 * margin) * v / top

    def sy(v: float) -> float:
        return height - margin - (height - 2 * margin) * v / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(top)}" y2="{sy(top)}" stroke="#999" '
        'stroke-dasharray="4 4"/>',
        f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(top)}" y2="{sy(0)}" stroke="black"/>',
        f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(0)}" y2="{sy(top)}" stroke="black"/>',
    ]
    for i in range(6):
        v = top * i / 5
        parts.append(
            f'<text x="{sx(v):.1f}" y="{sy(0) + 18:.1f}" text-anchor="middle">{v:.2f}</text>'
            f'<text x="{sx(0) - 8:.1f}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>'
        )
    parts.append(
        f'<text x="{width / 2}" y="{height - 15}" text-anchor="middle">'
        "mean predicted probability (score decile)</text>"
        f'<text x="16" y="{height / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {height / 2})">observed rate</text>'
    )
    legend_y = margin
    for name, colour in _COLOURS.items():
        curve = reliability.get(name)
        if not curve:
            continue
        path = " ".join(f"{sx(p['predicted']):.1f},{sy(p['observed']):.1f}" for p in curve)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in curve:
            parts.append(
                f'<circle cx="{sx(p["predicted"]):.1f}" cy="{sy(p["observed"]):.1f}" r="3" '
                f'fill="{colour}"/>'
            )
        label = _NAMES[name].replace("*", "")
        parts.append(
            f'<rect x="{margin + 10}" y="{legend_y}" width="12" height="3" fill="{colour}"/>'
            f'<text x="{margin + 28}" y="{legend_y + 5}">{escape(label)}</text>'
        )
        legend_y += 16
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _ordered(values: dict[str, Any]) -> dict[str, Any]:
    """Scores in the card's fixed order (metadata.json stores keys sorted)."""
    known = [k for k in _NAMES if k in values]
    return {k: values[k] for k in known + sorted(set(values) - set(known))}


def _metrics_tables(block: dict[str, Any]) -> list[str]:
    scores = _ordered(block["scores"])
    lines = [
        "| score | AUROC | AUPRC | Brier | calibration slope | calibration intercept | O/E |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in scores.items():
        lines.append(
            f"| {_NAMES.get(name, name)} | {_ci(m['auroc'])} | {_ci(m['auprc'])} | "
            f"{_ci(m['brier'], 4)} | {_ci(m['calibration_slope'], 2)} | "
            f"{_ci(m['calibration_intercept'], 2)} | {_ci(m['observed_expected'], 2)} |"
        )
    lines += [
        "",
        "| score | precision top 1% | precision top 5% | precision top 20% | recall top 1% | "
        "recall top 5% | recall top 20% |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in scores.items():
        cells = [
            _ci(m[f"{kind}_top_{k}pct"]) for kind in ("precision", "recall") for k in (1, 5, 20)
        ]
        lines.append(f"| {_NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    diffs = _ordered(block.get("differences") or {})
    if diffs:
        lines += [
            "",
            "Paired differences, model minus each comparator (same bootstrap resamples; the model "
            "beats a comparator when the whole interval is above 0):",
            "",
            "| comparator | Δ AUROC | Δ AUPRC | beats on AUROC | beats on AUPRC |",
            "|---|---|---|---|---|",
        ]
        for name, d in diffs.items():
            beats = [
                "reference, not a baseline"
                if name == "logistic_reference"
                else ("yes" if d[m]["low"] is not None and d[m]["low"] > 0 else "**no**")
                for m in ("auroc", "auprc")
            ]
            lines.append(
                f"| {_NAMES.get(name, name)} | {_ci(d['auroc'])} | {_ci(d['auprc'])} | "
                f"{beats[0]} | {beats[1]} |"
            )
    return lines


def _audit_tables(audit: dict[str, Any]) -> list[str]:
    lines = [
        "| attribute | group | rows | outcome rate | mean score | O/E | calibration slope | "
        "AUROC | complex | high | rising |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for attribute, groups in audit["attributes"].items():
        for value, g in groups.items():
            m = g.get("metrics")
            sel = g["selection_rate"]
            lines.append(
                f"| {attribute} | {escape(str(value))} | {g['rows']:,} | {_pct(g['prevalence'])} | "
                f"{_pct(g['mean_score'])} | "
                f"{_ci(m['observed_expected'], 2) if m else '–'} | "
                f"{_ci(m['calibration_slope'], 2) if m else '–'} | "
                f"{_ci(m['auroc']) if m else '–'} | {_pct(sel['complex'])} | "
                f"{_pct(sel['high'])} | {_pct(sel['rising'])} |"
            )
    return lines


def _need_table(audit: dict[str, Any], attribute: str) -> list[str]:
    rows = audit.get("condition_count_by_decile", {}).get(attribute) or []
    if not rows:
        return []
    groups = sorted({r["group"] for r in rows})
    by = {(r["decile"], r["group"]): r for r in rows}
    header = "| score decile | " + " | ".join(escape(str(g)) for g in groups) + " |"
    lines = [header, "|---|" + "---|" * len(groups)]
    for decile in range(1, 11):
        cells = []
        for g in groups:
            r = by.get((decile, g))
            if r is None or r["rows"] < 20:
                cells.append("–" if r is None else f"(n={r['rows']})")
            else:
                cells.append(
                    f"{r['chronic_condition_count']:.2f} / "
                    f"{r.get('realised_condition_count', float('nan')):.2f} (n={r['rows']:,})"
                )
        lines.append(f"| {decile} | " + " | ".join(cells) + " |")
    return lines


def _separated(block: dict[str, Any] | None, baseline: str) -> list[str]:
    """Metrics on which the model's whole interval lies above the baseline's whole interval."""
    if not block or baseline not in block["scores"]:
        return []
    model, other = block["scores"]["model"], block["scores"][baseline]
    return [
        m
        for m in ("auroc", "auprc")
        if model[m]["low"] is not None
        and other[m]["high"] is not None
        and model[m]["low"] > other[m]["high"]
    ]


def render_card(meta: dict[str, Any]) -> str:
    val = meta["validation"]
    spec = meta["label_spec"]
    plan = meta["plan"]
    rows = meta["rows"]
    beats = val.get("beats_baselines", {})
    all_beat = bool(beats) and all(all(v.values()) for v in beats.values())
    hp = meta["hyperparameters"]
    if spec["population"] == "everyone":
        dates = (
            f"fitting dates {', '.join(plan['fit_dates'])}; calibration date "
            f"{', '.join(plan['calibration_dates'])}; validation date "
            f"{', '.join(plan['validation_dates'])}"
        )
    else:
        dates = (
            f"fitting discharges {' to '.join(plan['fit_window'])}; calibration "
            f"{' to '.join(plan['calibration_window'])}; validation "
            f"{' to '.join(plan['validation_window'])}"
        )
    lines = [
        "# Model card: popcare risk model",
        "",
        "<!-- Generated by models/card.py from the model's metadata; do not edit by hand. -->",
        "",
        f"- **Version** `{meta['version']}` (SHA-256 of code, training data and parameters: "
        f"`{meta['version_hash'][:16]}…`)",
        f"- **As of** {meta['as_of']}; history from {plan['history_start']}",
        f"- **Label** `{spec['name']}`: {spec['description']}.",
        f"- **Produced by** `{meta.get('command') or 'popcare train'}`",
        "- **Packages** "
        + ", ".join(f"{k} {v}" for k, v in sorted(meta.get("packages", {}).items())),
        "",
        "## Intended use",
        "",
        "Ranking the members of a population for care-coordination outreach: who should a "
        "coordinator call first, and why. The score is a calibrated probability of unplanned acute "
        "care use, so it also sizes expected events on a list. It is **not** for diagnosis, "
        "treatment decisions, coverage or payment decisions, or for lowering anyone's access to "
        "care; every list is reviewed by a person, and the reasons shown with each score say what "
        "drove it. Tiers: complex = top 1%, high = next 4%, rising = next 15%, low = the rest "
        "(configurable, and list sizes should follow caseload).",
        "",
        "## Data",
        "",
        "Trained on this warehouse's own history (core tables built by popcare from claims, EHR and "
        "registry extracts): everyone alive on the scoring date and enrolled on it where "
        "eligibility is known. Temporal design, never a random split of one period: "
        f"{dates}. Training labels are all complete before the validation date.",
        "",
        "| split | rows | positives | outcome rate |",
        "|---|---|---|---|",
    ]
    for name in ("fit", "calibration", "validation"):
        r = rows[name]
        rate = r["positives"] / r["rows"] if r["rows"] else None
        lines.append(f"| {name} | {r['rows']:,} | {r['positives']:,} | {_pct(rate)} |")
    lines += [
        "",
        f"Planned stays (not counted by the label): `{meta['planned_rule']}`.",
        "",
        "## Features",
        "",
        f"{len(meta['features'])} inputs, all as of the scoring date (nothing dated after it is "
        "read; a test removes every later event and checks the features do not change): "
        + "; ".join(
            f"**{g}**: " + ", ".join(f["name"] for f in meta["features"] if f["group"] == g)
            for g in dict.fromkeys(f["group"] for f in meta["features"])
        )
        + ". Race and ethnicity are not inputs (they are audited below). Open care gaps from "
        "the measures mart are shown to coordinators but not used by the model: that table "
        "describes only the run's as-of date, so training rows would read gap status from after "
        "their scoring date.",
        "",
        "## Training",
        "",
        f"Histogram gradient boosting (scikit-learn), hyperparameters by {meta['params']['config']['cv_folds']}-fold "
        "cross-validation grouped by person on the fitting dates only (log loss): "
        + ", ".join(f"{k} = {v}" for k, v in hp.items())
        + f"; {meta['boosting_iterations']} boosting iterations (early stopping). Logistic "
        f"regression reference with C = {meta['logistic_C']}. Calibration: "
        f"{meta['calibrator']['method']} on the calibration date"
        + (
            f" (raw log-odds × {meta['calibrator']['slope']:.3f} + "
            f"{meta['calibrator']['intercept']:.3f})"
            if meta["calibrator"]["method"] == "platt"
            else ""
        )
        + ". Negative sampling rate: "
        + f"{meta['negative_sampling_rate']:.3f}"
        + " (1 = none). Baselines are recalibrated on the calibration date by a one-variable "
        "logistic (so Brier and calibration compare fairly; ranking metrics are unchanged).",
        "",
        "## Validation metrics",
        "",
        f"All rows of the validation date ({rows['validation']['rows']:,} people), 95% percentile "
        f"bootstrap intervals from {val['overall']['resamples']} resamples.",
        "",
        *_metrics_tables(val["overall"]),
        "",
    ]
    if val.get("discharged"):
        lines += [
            "### Discharged subgroup: model vs LACE",
            "",
            f"People with a hospital discharge in the 12 months before the validation date "
            f"({val['discharged_rows']:,}), where LACE is defined.",
            "",
            *_metrics_tables(val["discharged"]),
            "",
        ]
    lines += [
        "**Summary.** "
        + (
            "The model beats every baseline on AUROC and AUPRC by more than the bootstrap "
            "interval (the paired interval of the difference excludes 0)."
            if all_beat
            else "The model does **not** beat every baseline by more than the bootstrap interval: "
            + "; ".join(
                f"{_NAMES.get(k, k)}: "
                + ", ".join(f"{m} {'yes' if ok else 'no'}" for m, ok in v.items())
                for k, v in beats.items()
            )
            + "."
        )
        + " Stricter, the model's own interval lies entirely above the baseline's interval on: "
        + "; ".join(
            f"{_NAMES.get(name, name)}: "
            + (", ".join(_separated(val.get(block), name)) or "neither AUROC nor AUPRC")
            for name, block in (
                ("cms_hcc_v28", "overall"),
                ("prior_year_acute_use", "overall"),
                ("lace", "discharged"),
            )
            if val.get(block) and name in val[block]["scores"]
        )
        + f". Calibration slope {_ci(val['overall']['scores']['model']['calibration_slope'], 2)}.",
        "",
        "## Calibration",
        "",
        f"![calibration plot]({PLOT_FILE})",
        "",
        "| decile | mean predicted | observed | rows |",
        "|---|---|---|---|",
    ]
    for i, p in enumerate(val["reliability"]["model"], start=1):
        lines.append(f"| {i} | {_pct(p['predicted'])} | {_pct(p['observed'])} | {p['rows']:,} |")
    audit = val["audit"]
    lines += [
        "",
        "## Subgroup audit",
        "",
        "Per group on the validation date: outcome rate, mean score, observed/expected and "
        "calibration slope (with intervals when the group has ≥ 100 rows and ≥ 10 events), AUROC, "
        "and the share of the group selected into each tier (the whole population's cut-offs).",
        "",
        *_audit_tables(audit),
        "",
        "### Need at equal score (Obermeyer et al., Science 2019)",
        "",
        "Mean number of chronic conditions on record at the scoring date / coded during the "
        "outcome window, by score decile (10 = highest) and race. At the same decile, a group "
        "with consistently more conditions would be under-ranked by the score, the signature of "
        "a biased label; cells under 20 people show only their size.",
        "",
        *_need_table(audit, "race"),
        "",
        "## Limitations",
        "",
        "- Trained and validated on one warehouse's history; figures on a synthetic population "
        "describe the method, not clinical performance on real patients.",
        "- The label counts utilisation recorded in claims and the EHR; care outside both is "
        "invisible, so people with less recorded care can look healthier than they are (the "
        "missing-data indicators and the audit above exist for this).",
        "- CMS-HCC is a Medicare model; it is applied to every payer here as a morbidity index "
        "(raw, unnormalised, community segments, 2026 coefficients for every year; EHR-only "
        "diagnoses do not count).",
        "- Social-needs flags carry no screening date in the registry contract and are treated as "
        "standing attributes; PDC is per drug product, not per PQA class, without the forward "
        "shift of early refills.",
        "- Reasons come from group baseline substitution on this model (models/explain.py): "
        "faithful to the model's own output, but not additive across groups.",
        "- Scores drift when the population or coding changes: retrain monthly (the `retrain` "
        "job) and compare cards.",
        "",
    ]
    return "\n".join(lines)


def render_files(meta: dict[str, Any]) -> dict[str, str]:
    title = f"Calibration on the validation date ({meta['label_spec']['name']})"
    return {
        CARD_FILE: render_card(meta),
        PLOT_FILE: calibration_svg(meta["validation"]["reliability"], title),
    }


def write_card(meta: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in render_files(meta).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder / CARD_FILE


def main(argv: list[str] | None = None) -> None:
    """``python -m models.card --metadata <model folder>/metadata.json --out docs``: re-render."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Regenerate a model card from its metadata.")
    parser.add_argument("--metadata", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    meta = json.loads(args.metadata.read_text(encoding="utf-8"))
    print(write_card(meta, args.out))


if __name__ == "__main__":
    main()
