"""Utilisation, tests, screenings and fills for one chunk of people, year by year.

All draws are vectorised over people or events; the only Python loops are over the (three or so)
365-day periods of the window, over event kinds, and over the rounds of readmission chains.

Structure (docs/generator.md has the full table and the public figures each part follows):
- per person-year state: HbA1c, systolic BP, adherence, prior-year admissions;
- rates of admission, ED and observation use scale with exp(risk), where risk adds comorbidity count,
  latent health, poor control, non-adherence, SDOH, prior-year admissions and a persistent person
  effect; office visits and testing scale with engagement;
- each discharge may be followed by a 30-day readmission whose odds rise with comorbidity, latent
  health, SDOH, non-adherence, poor control, prior admissions and length of stay, and fall with a
  follow-up visit within 7 days (itself more likely with engagement and care-management programmes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.synthetic import codes
from pipelines.synthetic import world as W
from pipelines.synthetic.population import (
    COMMERCIAL,
    MEDICAID,
    MEDICARE,
    Population,
    Window,
    covered_segments,
    is_covered,
    logistic,
)
from pipelines.synthetic.population import C as CI

CLASSES = list(codes.ADMIT_CLASSES) + list(codes.PLANNED_CLASSES)
CLASS_INFO = {**codes.ADMIT_CLASSES, **codes.PLANNED_CLASSES}
K = {name: i for i, name in enumerate(CLASSES)}
N_ACUTE = len(codes.ADMIT_CLASSES)

# Stay origin
SEED, READMIT, TRANSFER_IN, TERMINAL, PLANNED, PRE_DEATH = range(6)


def age_of(pop: Population, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (day - pop.birth[person]) / 365.25


def _cat(rng, weights: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from a (k, m) matrix of non-negative weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _dates_in(rng, person, a_s, a_len, b_s, b_len):
    total = a_len[person] + b_len[person]
    off = (rng.random(len(person)) * total).astype(np.int64)
    in_a = off < a_len[person]
    return np.where(in_a, a_s[person] + off, b_s[person] + off - a_len[person])


def _poisson_events(rng, rate_per_year, seg):
    """Events per person over the covered days of a period, then their days."""
    a_s, a_len, b_s, b_len = seg
    days = a_len + b_len
    n = rng.poisson(rate_per_year * days / 365.25)
    person = np.repeat(np.arange(len(n)), n)
    return person, _dates_in(rng, person, a_s, a_len, b_s, b_len)


@dataclass
class Events:
    stays: dict = field(default_factory=dict)
    ed: dict = field(default_factory=dict)
    obs: dict = field(default_factory=dict)
    office: dict = field(default_factory=dict)
    labs: dict = field(default_factory=dict)
    screens: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    snf: dict = field(default_factory=dict)
    hh: dict = field(default_factory=dict)
    hospice: dict = field(default_factory=dict)
    fills: dict = field(default_factory=dict)
    regimens: dict = field(default_factory=dict)
    vitals: dict = field(default_factory=dict)
    dep_screens: dict = field(default_factory=dict)
    year_state: dict = field(default_factory=dict)


def _cat_concat(parts: list[dict]) -> dict:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    nonempty = [p for p in parts if len(next(iter(p.values()))) > 0]
    if not nonempty:
        return {k: np.asarray(v)[:0] for k, v in parts[0].items()}
    parts = nonempty
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def simulate(rng: np.random.Generator, pop: Population, win: Window) -> Events:
    n = pop.n
    periods = win.periods
    Y = len(periods)
    dm = pop.cond[:, CI["diabetes"]]
    htn = pop.cond[:, CI["hypertension"]]
    ncc = pop.ncc
    nsdoh = pop.sdoh.sum(axis=1)

    # Person-level control and adherence propensities.
    a1c_mu = 7.1 - 0.7 * pop.engage + 0.3 * pop.health + 0.2 * pop.social + rng.normal(0, 0.7, n)
    sbp_mu = np.where(
        htn,
        131 - 5 * pop.engage + 3 * pop.health + rng.normal(0, 8, n),
        114 + 0.3 * np.clip(pop.age0 - 30, 0, None) + rng.normal(0, 8, n),
    )
    adh_p = (
        1.5 + 0.9 * pop.engage - 0.3 * pop.social + 0.3 * (pop.age0 >= 65) + rng.normal(0, 0.5, n)
    )

    regimens = _regimens(rng, pop)
    pop.extras["on_statin"] = np.zeros(n, bool)
    pop.extras["on_statin"][regimens["person"][np.isin(regimens["drug"], DRUG_INDEX["statin"])]] = (
        True
    )
    ev = Events(regimens=regimens)

    a1c_y = np.zeros((n, Y))
    sbp_y = np.zeros((n, Y))
    adh_y = np.zeros((n, Y))
    prior_ip = np.zeros(n)
    on_meds = np.zeros(n, dtype=bool)
    on_meds[regimens["person"]] = True

    parts: dict[str, list] = {k: [] for k in ("stays", "ed", "obs", "office", "labs", "screens")}
    for y, (lo, hi) in enumerate(periods):
        seg = covered_segments(pop, lo, hi)
        age = pop.age_at(lo)
        adh_y[:, y] = logistic(adh_p + rng.normal(0, 0.45, n))
        nonadh = on_meds & (adh_y[:, y] < 0.75)
        a1c_y[:, y] = np.where(dm, a1c_mu + 0.5 * nonadh + rng.normal(0, 0.35, n), 5.4)
        sbp_y[:, y] = sbp_mu + 6 * nonadh * htn + rng.normal(0, 4, n)
        risk = (
            0.28 * ncc
            + 0.40 * pop.health
            + 0.35 * (dm & (a1c_y[:, y] > 9))
            + 0.25 * (sbp_y[:, y] >= 160)
            + 0.30 * nonadh
            + 0.18 * nsdoh
            + 0.30 * np.minimum(prior_ip, 3)
            + pop.frailty_u
            - 0.9
        )
        payer = np.where((pop.s2 >= 0) & (lo >= pop.s2), pop.payer2, pop.payer)
        child = age < 18
        old = age >= 65
        ip_base = np.select(
            [child, payer == MEDICARE, payer == MEDICAID],
            [0.006, np.where(old, 0.12, 0.15), 0.05],
            0.055,
        )
        ed_base = np.select(
            [payer == MEDICAID, child, payer == MEDICARE],
            [np.where(child, 0.5, 0.74), 0.15, 0.26],
            0.19,
        )
        ip_rate = ip_base * np.exp(risk)
        ed_rate = ed_base * np.exp(0.6 * risk + 0.3 * pop.social)
        obs_rate = np.where(child, 0.002, np.where(old, 0.045, 0.015)) * np.exp(0.8 * risk)
        office_rate = (
            np.select([payer == MEDICARE, child], [3.0, 1.6], 2.0)
            * (1 + 0.3 * ncc)
            * np.exp(0.25 * pop.engage)
        )
        state = dict(a1c=a1c_y[:, y], sbp=sbp_y[:, y], adh=adh_y[:, y], nonadh=nonadh, risk=risk)

        stays = _seed_stays(rng, pop, seg, ip_rate, age, state, lo)
        stays = _planned_stays(rng, pop, seg, age, stays)
        parts["stays"].append(stays)
        parts["ed"].append(_ed_visits(rng, pop, seg, ed_rate))
        parts["obs"].append(_obs_stays(rng, pop, seg, obs_rate))
        parts["office"].append(_office_visits(rng, pop, seg, office_rate, age, payer, state))
        parts["labs"].append(_labs(rng, pop, seg, age, state))
        parts["screens"].append(_screens(rng, pop, seg, age, payer))
        prior_ip = np.bincount(stays["person"], minlength=n).astype(float)

    stays = _cat_concat(parts["stays"])
    stays = _terminal_stays(rng, pop, win, stays)
    stays = _no_overlap(stays)
    stays = _transfers(rng, pop, win, stays)
    state_all = dict(a1c=a1c_y, adh=adh_y, periods=periods)
    stays, followups, post_ed = _readmissions(rng, pop, win, stays, state_all)
    ev.stays = _no_overlap(stays)
    ev.ed = _cat_concat([*parts["ed"], post_ed])
    ev.obs = _cat_concat(parts["obs"])
    ev.office = _cat_concat([*parts["office"], followups])
    ev.labs = _cat_concat(parts["labs"])
    ev.screens = _cat_concat(parts["screens"])
    ev.history = _colonoscopy_history(rng, pop, win)
    ev.snf, ev.hh = _post_acute(rng, pop, ev.stays)
    ev.hospice = _hospice(rng, pop, win, ev.stays)
    ev.fills = _fills(rng, pop, win, regimens, adh_y, periods)
    ev.vitals = _vitals(rng, pop, ev.office, sbp_y, periods)
    ev.dep_screens = _depression_screens(rng, pop, ev.office)
    ev.year_state = dict(a1c=a1c_y, sbp=sbp_y, adh=adh_y, a1c_mu=a1c_mu)
    return ev


# ---------------------------------------------------------------------------------------------
# Inpatient stays


def _class_weights(pop: Population, person: np.ndarray, age: np.ndarray) -> np.ndarray:
    c = pop.cond[person].astype(float)
    old = (age >= 75).astype(float)
    w = np.zeros((len(person), N_ACUTE))
    g = {name: c[:, i] for name, i in CI.items()}
    w[:, K["heart_failure"]] = 0.15 + 6 * g["heart_failure"]
    w[:, K["copd"]] = 0.1 + 4 * g["copd"]
    w[:, K["pneumonia"]] = 1.0 + 0.8 * g["copd"] + 0.4 * old
    w[:, K["sepsis"]] = 0.8 + 0.6 * old + 0.4 * g["ckd"]
    w[:, K["diabetes_acute"]] = 1.6 * g["diabetes"]
    w[:, K["ami"]] = 0.4 + 0.6 * g["diabetes"] + 0.4 * g["hypertension"]
    w[:, K["stroke"]] = 0.4 + 0.5 * g["hypertension"] + 0.3 * old
    w[:, K["uti"]] = 0.6 + 0.6 * g["dementia"]
    w[:, K["renal_failure"]] = 0.25 + 1.6 * g["ckd"]
    w[:, K["gi_bleed"]] = 0.5
    w[:, K["cellulitis"]] = 0.5 + 0.5 * g["diabetes"]
    w[:, K["syncope"]] = 0.35
    w[:, K["chest_pain"]] = 0.5
    w[:, K["hip_fracture"]] = 0.03 + 0.5 * old + 0.5 * g["dementia"]
    w[:, K["psychosis"]] = 0.02 + 5 * g["smi"]
    w[:, K["depression_acute"]] = 0.03 + 1.0 * g["depression"]
    w[:, K["dementia_acute"]] = 1.5 * g["dementia"]
    w[:, K["asthma_acute"]] = 0.05 + 2 * g["asthma"]
    return w


def _severity(rng, pop, person):
    p_mcc = logistic(-1.6 + 0.35 * pop.ncc[person] + 0.3 * pop.health[person])
    u = rng.random(len(person))
    return np.where(u < p_mcc, 0, np.where(u < p_mcc + (1 - p_mcc) * 0.45, 1, 2)).astype(np.int8)


def _los(rng, cls, sev):
    mean = np.array([CLASS_INFO[c][2] for c in CLASSES])[cls]
    factor = np.choose(sev, [1.4, 1.0, 0.75])
    return 1 + rng.poisson(np.maximum(mean * factor - 1, 0.2))


def _dispositions(rng, pop, person, cls, age):
    """Live-discharge destinations (NUBC patient status). Shares follow HCUP NIS discharge status
    for adults: home ~60%, home health ~17%, SNF/ICF ~15% (most 75+), transfer to acute ~2.5%, AMA
    ~1.5% (more with SMI or substance use)."""
    n = len(person)
    u = rng.random(n)
    p_ama = 0.01 + 0.05 * pop.cond[person, CI["smi"]] + 0.012 * (age < 45)
    p_tr = np.full(n, 0.025)
    ortho = (cls == K["hip_fracture"]) | (cls == K["stroke"])
    p_snf = np.where(
        age >= 65, logistic(-2.4 + 0.07 * (age - 65) + 0.35 * pop.health[person]), 0.02
    )
    p_snf = np.where(ortho, np.maximum(p_snf, 0.45), p_snf)
    p_hh = np.where(age >= 65, 0.2, 0.08)
    p_irf = np.where(ortho, 0.12, 0.005)
    edges = np.cumsum(np.stack([p_ama, p_tr, p_snf, p_hh, p_irf], axis=1), axis=1)
    k = (u[:, None] >= edges).sum(axis=1)
    return np.array(["07", "02", "03", "06", "62", "01"])[k]


def _new_stays(rng, pop, person, admit, cls, origin, age, via_ed=None, atype=None, asrc=None):
    n = len(person)
    sev = _severity(rng, pop, person)
    los = _los(rng, cls, sev)
    disch = admit + los
    if via_ed is None:
        via_ed = (cls < N_ACUTE) & (rng.random(n) < 0.75)
    if atype is None:
        atype = np.where(cls >= N_ACUTE, "3", np.where(via_ed, "1", "2"))
    if asrc is None:
        asrc = np.where(via_ed, "1", np.where(cls >= N_ACUTE, "2", "1"))
    fac = np.array(W.ACUTE)[rng.choice(len(W.ACUTE), n, p=W.ACUTE_SHARE)]
    return dict(
        person=person,
        admit=admit.astype(np.int64),
        disch=disch.astype(np.int64),
        cls=cls.astype(np.int16),
        sev=sev,
        disp=_dispositions(rng, pop, person, cls, age),
        atype=np.asarray(atype).astype("<U1"),
        asrc=np.asarray(asrc).astype("<U1"),
        via_ed=via_ed,
        fac=fac,
        origin=np.full(n, origin, dtype=np.int8),
        chain=np.zeros(n, dtype=np.int8),
    )


def _clip_to_coverage(pop, stays):
    """A stay ends by the end of its coverage span; one cut short by death is an in-hospital death
    (patient status 20). Stays starting outside coverage are dropped."""
    p = stays["person"]
    keep = is_covered(pop, p, stays["admit"])
    stays = {k: v[keep] for k, v in stays.items()}
    p = stays["person"]
    in2 = (pop.s2[p] >= 0) & (stays["admit"] >= pop.s2[p])
    end = np.where(in2, pop.e2[p], pop.e1[p])
    died = (pop.death[p] >= 0) & (stays["disch"] >= pop.death[p]) & (pop.death[p] == end)
    stays["disch"] = np.minimum(stays["disch"], end)
    stays["disp"] = np.where(died, "20", stays["disp"])
    return stays


def _seed_stays(rng, pop, seg, ip_rate, age, state, lo):
    person, admit = _poisson_events(rng, ip_rate, seg)
    cls = _cat(rng, _class_weights(pop, person, age[person]))
    stays = _new_stays(rng, pop, person, admit, cls, SEED, age[person])
    return _clip_to_coverage(pop, stays)


def _planned_stays(rng, pop, seg, age, stays):
    """Elective admissions: chemotherapy cycles for people with cancer, joint replacement for older
    adults, elective PCI, and the rare kidney transplant for ESRD."""
    n = pop.n
    cancer = pop.cond[:, CI["cancer"]] & (age >= 18)
    rate = np.zeros(n)
    kind = np.full(n, K["chemotherapy"])
    chemo = cancer & (pop.health > 0.5)
    rate = np.where(chemo, 0.2, rate)
    joint = (age >= 55) & ~chemo
    rate = np.where(joint, 0.012, rate)
    kind = np.where(
        joint, np.where(pop.gid % 2 == 0, K["knee_replacement"], K["hip_replacement"]), kind
    )
    pci = (age >= 50) & pop.cond[:, CI["diabetes"]] & ~chemo
    rate = np.where(pci, rate + 0.01, rate)
    kind = np.where(pci & (pop.gid % 3 == 0), K["pci_elective"], kind)
    tx = pop.esrd
    rate = np.where(tx, 0.03, rate)
    kind = np.where(tx, K["kidney_transplant"], kind)
    person, admit = _poisson_events(rng, rate, seg)
    if len(person) == 0:
        return stays
    new = _new_stays(
        rng,
        pop,
        person,
        admit,
        kind[person],
        PLANNED,
        age[person],
        via_ed=np.zeros(len(person), bool),
    )
    new["disp"] = np.where(new["disp"] == "07", "01", new["disp"])
    return _cat_concat([stays, _clip_to_coverage(pop, new)])


def _terminal_stays(rng, pop, win, stays):
    """Decedents: about a third die in hospital (CDC NCHS place of death: ~30% inpatient), another
    share is admitted in the month before dying at home or in hospice ('death after discharge')."""
    dead = np.flatnonzero(pop.death >= 0)
    if len(dead) == 0:
        return stays
    u = rng.random(len(dead))
    in_hosp = dead[u < 0.32]
    pre = dead[(u >= 0.32) & (u < 0.62)]
    age = pop.age_at(pop.death)
    parts = [stays]
    if len(in_hosp):
        cls = _cat(rng, _class_weights(pop, in_hosp, age[in_hosp]))
        los = 1 + rng.poisson(4.5, len(in_hosp))
        admit = pop.death[in_hosp] - los
        t = _new_stays(rng, pop, in_hosp, admit, cls, TERMINAL, age[in_hosp])
        t["disch"] = pop.death[in_hosp].astype(np.int64)
        t["disp"] = np.full(len(in_hosp), "20")
        parts.append(_clip_to_coverage(pop, t))
    if len(pre):
        cls = _cat(rng, _class_weights(pop, pre, age[pre]))
        gap = 1 + rng.integers(0, 30, len(pre))
        los = 1 + rng.poisson(4.0, len(pre))
        admit = pop.death[pre] - gap - los
        t = _new_stays(rng, pop, pre, admit, cls, PRE_DEATH, age[pre])
        t["disch"] = admit + los
        hospice = rng.random(len(pre)) < 0.45
        t["disp"] = np.where(hospice, np.where(rng.random(len(pre)) < 0.7, "50", "51"), t["disp"])
        t["disp"] = np.where(t["disp"] == "02", "01", t["disp"])
        parts.append(_clip_to_coverage(pop, t))
    return _cat_concat(parts)


def _no_overlap(stays):
    """Drop stays that start before the person's previous stay ended (two passes settle chains)."""
    for _ in range(2):
        order = np.lexsort((stays["admit"], stays["person"]))
        stays = {k: v[order] for k, v in stays.items()}
        p, a, d = stays["person"], stays["admit"], stays["disch"]
        same = np.r_[False, p[1:] == p[:-1]]
        prev_d = np.r_[-1, d[:-1]]
        # A transfer-in starts on the day the previous stay ends: that is not an overlap.
        bad = same & (a < prev_d)
        stays = {k: v[~bad] for k, v in stays.items()}
    return stays


def _transfers(rng, pop, win, stays):
    """Discharge status 02 (to another acute hospital) creates a stay at a different hospital that
    starts the same day, admitted as a transfer (point of origin 4)."""
    out = np.flatnonzero(stays["disp"] == "02")
    if len(out) == 0:
        return stays
    p = stays["person"][out]
    age = age_of(pop, p, stays["disch"][out])
    t = _new_stays(
        rng,
        pop,
        p,
        stays["disch"][out],
        stays["cls"][out],
        TRANSFER_IN,
        age,
        via_ed=np.zeros(len(out), bool),
        atype=np.full(len(out), "1"),
        asrc=np.full(len(out), "4"),
    )
    # The receiving hospital is a different one (tertiary centres receive most transfers).
    t["fac"] = np.where(stays["fac"][out] == W.ACUTE[3], W.ACUTE[0], W.ACUTE[3])
    t["disp"] = np.where(t["disp"] == "02", "01", t["disp"])
    return _cat_concat([stays, _clip_to_coverage(pop, t)])


# Intercepts of the 30-day readmission logit. Commercial shares Medicare's: payer is not a risk in
# itself, the person's conditions, health, age and social risk carry the difference. Calibrated to
# crude all-cause rates without maternity (which is not simulated): HCUP SB #248 (2016) Medicare
# 17.1%; HCUP SB #115 (2008) private-insurance non-maternal adults 10.1% (18-44) and 11.9% (45-64).
# HCUP's private 8.6% (SB #248) includes maternal stays, readmitted ~3.6% of the time. After the CMS
# hospital-wide rules this lands commercial 18-64 unplanned at ~8-10% (/work/shared/reference/
# readmissions.md). Medicaid -2.8: HCUP Medicaid ~14% all-cause.
READMIT_BASE = {MEDICARE: -3.0, MEDICAID: -2.8, COMMERCIAL: -3.0}


def _readmissions(rng, pop, win, stays, state):
    """Rounds of 30-day readmissions and the follow-up visits that protect against them."""
    periods = state["periods"]
    all_stays = [stays]
    followups = []
    post_ed = []
    current = stays
    for _ in range(3):
        elig = ~np.isin(current["disp"], ["20", "02", "50", "51"])
        idx = np.flatnonzero(elig)
        if len(idx) == 0:
            break
        p = current["person"][idx]
        disch = current["disch"][idx]
        los = disch - current["admit"][idx]
        y = np.clip((disch - win.start) // 365, 0, len(periods) - 1)
        a1c = state["a1c"][p, y]
        adh = state["adh"][p, y]
        payer = np.where((pop.s2[p] >= 0) & (disch >= pop.s2[p]), pop.payer2[p], pop.payer[p])
        prior = _prior_count(all_stays, p, disch)
        prog = pop.complex_care[p] | pop.toc[p]
        fu7 = rng.random(len(p)) < logistic(
            -0.1
            + 0.8 * pop.engage[p]
            - 0.4 * pop.social[p]
            + 1.0 * prog
            + 0.3 * (payer == MEDICARE)
        )
        logit = (
            np.choose(payer, [READMIT_BASE[0], READMIT_BASE[1], READMIT_BASE[2]])
            + 0.16 * pop.ncc[p]
            + 0.35 * pop.health[p]
            + 0.22 * pop.sdoh[p].sum(axis=1)
            + 0.35 * (adh < 0.75)
            + 0.30 * (pop.cond[p, CI["diabetes"]] & (a1c > 9))
            + 0.04 * np.minimum(los, 15)
            + 0.25 * (prior >= 2)
            + 0.45 * (current["disp"][idx] == "07")
            + 0.15 * (current["disp"][idx] == "03")
            - 0.55 * fu7
            - 0.2 * pop.complex_care[p]
            + 0.3 * pop.frailty_u[p]
        )
        readmit = rng.random(len(p)) < logistic(logit)
        gap = 1 + np.minimum(rng.exponential(8.0, len(p)).astype(np.int64), 29)
        # Chemotherapy is given in cycles: a planned readmission 21-28 days later.
        chemo = (current["cls"][idx] == K["chemotherapy"]) & (rng.random(len(p)) < 0.4)
        gap = np.where(chemo, rng.integers(21, 29, len(p)), gap)
        readmit |= chemo
        r_day = disch + gap

        # Follow-up office visit (TCM-coded when within 14 days), unless readmitted first.
        fu_day = np.where(
            fu7, disch + rng.integers(2, 8, len(p)), disch + rng.integers(8, 31, len(p))
        )
        has_fu = fu7 | (rng.random(len(p)) < 0.45)
        has_fu &= ~readmit | (fu_day < r_day)
        has_fu &= is_covered(pop, p, fu_day) & (fu_day <= win.end)
        fp = p[has_fu]
        followups.append(
            dict(
                person=fp,
                day=fu_day[has_fu],
                kind=np.where(fu_day[has_fu] - disch[has_fu] <= 14, 3, 0).astype(np.int8),
                tele=rng.random(len(fp)) < 0.1,
            )
        )
        # ED use clusters after discharge.
        ed_p = rng.random(len(p)) < 0.06 * np.exp(0.3 * pop.health[p])
        ed_day = disch + rng.integers(1, 31, len(p))
        ok = (
            ed_p & is_covered(pop, p, ed_day) & (ed_day <= win.end) & ~(readmit & (ed_day >= r_day))
        )
        post_ed.append(_ed_rows(rng, pop, p[ok], ed_day[ok]))

        ok = readmit & is_covered(pop, p, r_day) & (r_day <= win.end)
        if not ok.any():
            break
        rp = p[ok]
        age = age_of(pop, rp, r_day[ok])
        w = _class_weights(pop, rp, age)
        w[np.arange(len(rp)), np.minimum(current["cls"][idx][ok], N_ACUTE - 1)] *= 3
        cls = np.where(chemo[ok], K["chemotherapy"], _cat(rng, w))
        new = _new_stays(rng, pop, rp, r_day[ok], cls, READMIT, age)
        new["chain"] = current["chain"][idx][ok] + 1
        new = _clip_to_coverage(pop, new)
        all_stays.append(new)
        current = new
    return _cat_concat(all_stays), _cat_concat(followups), _cat_concat(post_ed)


def _prior_count(all_stays, person, day):
    """Admissions of the same person in the 365 days before ``day``."""
    allp = np.concatenate([s["person"] for s in all_stays])
    alla = np.concatenate([s["admit"] for s in all_stays])
    order = np.lexsort((alla, allp))
    key = allp[order] * 100_000 + alla[order]
    hi = np.searchsorted(key, person * 100_000 + day, side="left")
    lo = np.searchsorted(key, person * 100_000 + day - 365, side="left")
    return hi - lo


# ---------------------------------------------------------------------------------------------
# ED, observation, office


def _ed_rows(rng, pop, person, day):
    n = len(person)
    dx_generic = rng.integers(0, len(codes.ED_DIAGNOSES), n)
    cond_dx = np.full(n, -1)
    c = pop.cond[person]
    # Index 9 is J45901 (asthma exacerbation); 14 is R739, replaced by E1165 only for diabetics.
    for name, code_idx in (("asthma", 9),):
        cond_dx = np.where(c[:, CI[name]] & (rng.random(n) < 0.3), code_idx, cond_dx)
    dx = np.where(cond_dx >= 0, cond_dx, dx_generic)
    level = _cat(rng, np.tile([0.03, 0.10, 0.32, 0.35, 0.20], (n, 1)))
    fac = np.array(W.ACUTE)[rng.choice(len(W.ACUTE), n, p=W.ACUTE_SHARE)]
    return dict(
        person=person, day=day, dx=dx.astype(np.int16), level=level.astype(np.int8), fac=fac
    )


def _ed_visits(rng, pop, seg, rate):
    person, day = _poisson_events(rng, rate, seg)
    return _ed_rows(rng, pop, person, day)


def _obs_stays(rng, pop, seg, rate):
    person, day = _poisson_events(rng, rate, seg)
    n = len(person)
    cls = rng.choice([K["chest_pain"], K["syncope"], K["cellulitis"], K["copd"], K["uti"]], n)
    hours = rng.integers(18, 47, n)
    fac = np.array(W.ACUTE)[rng.choice(len(W.ACUTE), n, p=W.ACUTE_SHARE)]
    return dict(
        person=person,
        day=day,
        end=day + (hours >= 24),
        hours=hours,
        cls=cls.astype(np.int16),
        via_ed=rng.random(n) < 0.8,
        fac=fac,
    )


def _office_visits(rng, pop, seg, rate, age, payer, state):
    person, day = _poisson_events(rng, rate, seg)
    n = len(person)
    kind = np.zeros(n, dtype=np.int8)
    # Annual wellness / preventive visit: ~50% of Medicare beneficiaries have an AWV each year
    # (CMS utilisation reports); preventive visits are less common for working-age adults.
    adult = age >= 18
    p_prev = np.where(
        payer == MEDICARE, logistic(0.1 + 0.8 * pop.engage), logistic(-0.5 + 0.8 * pop.engage)
    )
    prev = adult & (rng.random(pop.n) < p_prev)
    pp, pd = _poisson_events(rng, np.where(prev, 1.0, 0.0), seg)
    first = np.r_[True, pp[1:] != pp[:-1]] if len(pp) else np.zeros(0, bool)
    pp, pd = pp[first], pd[first]
    person = np.r_[person, pp]
    day = np.r_[day, pd]
    kind = np.r_[kind, np.full(len(pp), 2, np.int8)]
    return dict(
        person=person, day=day, kind=kind, tele=(rng.random(len(person)) < 0.12) & (kind == 0)
    )


# ---------------------------------------------------------------------------------------------
# Laboratory tests and screenings


LAB_TESTS = ("a1c", "bmp", "uacr", "lipid", "fit")


def _labs(rng, pop, seg, age, state):
    """Monitoring tests whose frequency tracks engagement (ADA standards: HbA1c 2-4x/yr; KED: eGFR
    and uACR yearly for diabetes, completed by ~35-45% nationally)."""
    dm = pop.cond[:, CI["diabetes"]]
    cardio_renal = (
        dm
        | pop.cond[:, CI["hypertension"]]
        | pop.cond[:, CI["ckd"]]
        | pop.cond[:, CI["heart_failure"]]
    )
    adult = age >= 18
    e = pop.engage
    rates = {
        "a1c": np.where(dm, 2.0 * np.exp(0.45 * e - 0.15 * pop.social), 0.0),
        "bmp": np.where(
            cardio_renal, 1.2 * np.exp(0.3 * e), np.where(adult & (age >= 40), 0.25, 0)
        ),
        "uacr": np.where(dm, 0.5 * np.exp(0.55 * e), np.where(pop.cond[:, CI["ckd"]], 0.3, 0)),
        "lipid": np.where(
            cardio_renal & adult, 0.8 * np.exp(0.3 * e), np.where(adult & (age >= 40), 0.25, 0)
        ),
    }
    parts = []
    for t, rate in rates.items():
        person, day = _poisson_events(rng, rate, seg)
        parts.append(
            dict(person=person, day=day, test=np.full(len(person), LAB_TESTS.index(t), np.int8))
        )
    labs = _cat_concat(parts)
    p = labs["person"]
    n = len(p)
    a1c = state["a1c"][p] + rng.normal(0, 0.25, n)
    stage = pop.ckd_stage[p]
    egfr = np.select(
        [stage == 3, stage == 4, stage == 5],
        [rng.uniform(31, 59, n), rng.uniform(15, 29.5, n), rng.uniform(5, 14.5, n)],
        np.clip(
            rng.normal(98 - 0.55 * np.clip(age_of(pop, p, labs["day"]) - 30, 0, None), 12, n),
            61,
            130,
        ),
    )
    uacr = np.exp(
        rng.normal(
            np.where(stage > 0, 4.6, np.where(pop.cond[p, CI["diabetes"]], 2.9, 2.2)), 0.8, n
        )
    )
    on_statin = pop.extras["on_statin"]
    ldl = np.where(
        on_statin[p] | (rng.random(n) < 0.35 * pop.cond[p, CI["diabetes"]]),
        rng.normal(92, 25, n),
        rng.normal(128, 30, n),
    )
    value = np.choose(labs["test"], [a1c, egfr, uacr, ldl, np.zeros(n)])
    labs["value"] = np.round(np.maximum(value, 0.5), 1)
    labs["in_system"] = pop.in_ehr[p] & (rng.random(n) < 0.8)
    return labs


def _screens(rng, pop, seg, age, payer):
    """Cancer screenings. Propensities are set so CMS125 (breast, 27-month window) lands ~65-75% and
    CMS130 (colorectal, with colonoscopy history) ~55-75%, per HEDIS/eCQM national averages."""
    e, s = pop.engage, pop.social
    women = pop.female & (age >= 40) & (age < 75)
    p_mammo = np.where(women, logistic(-0.05 + 0.9 * e - 0.25 * s + 0.25 * (payer == MEDICARE)), 0)
    crc = (age >= 45) & (age < 76)
    p_fit = np.where(crc, logistic(-2.0 + 0.8 * e), 0)
    p_colo = np.where(crc, 0.035 * np.exp(0.4 * e), 0)
    p_dna = np.where(crc, 0.03, 0)
    parts = []
    for k, p in enumerate((p_mammo, p_colo, p_fit, p_dna)):
        person, day = _poisson_events(rng, -np.log1p(-np.minimum(p, 0.95)), seg)
        first = np.r_[True, person[1:] != person[:-1]] if len(person) else np.zeros(0, bool)
        person, day = person[first], day[first]
        parts.append(dict(person=person, day=day, kind=np.full(len(person), k, np.int8)))
    out = _cat_concat(parts)
    out["in_system"] = pop.in_ehr[out["person"]] & (rng.random(len(out["person"])) < 0.75)
    out["positive"] = rng.random(len(out["person"])) < 0.06
    return out


def _colonoscopy_history(rng, pop, win):
    """Colonoscopies before the claims window, known only from the EHR's procedure history: the
    CMS130 look-back is 10 years but claims extracts rarely go back that far."""
    age = pop.age0
    crc = (age >= 44) & (age < 76) & pop.in_ehr
    p = logistic(0.5 + 0.8 * pop.engage - 0.3 * pop.social + 0.5 * (age >= 55))
    has = crc & (rng.random(pop.n) < p)
    person = np.flatnonzero(has)
    day = win.start - rng.integers(30, int(9.5 * 365), len(person))
    return dict(person=person, day=day)


# ---------------------------------------------------------------------------------------------
# Post-acute care and hospice


def _post_acute(rng, pop, stays):
    snf_i = np.flatnonzero(stays["disp"] == "03")
    p = stays["person"][snf_i]
    start = stays["disch"][snf_i]
    # Medicare SNF stays average ~25 days (MedPAC); capped by the 100-day benefit and coverage.
    los = np.minimum(1 + rng.poisson(np.exp(rng.normal(2.9, 0.5, len(p)))), 100)
    end = start + los
    in2 = (pop.s2[p] >= 0) & (start >= pop.s2[p])
    cover_end = np.where(in2, pop.e2[p], pop.e1[p])
    end = np.minimum(end, cover_end)
    ok = end > start
    snf = dict(
        person=p[ok],
        start=start[ok],
        end=end[ok],
        fac=np.array(W.SNF)[rng.integers(0, len(W.SNF), ok.sum())],
        died=(pop.death[p[ok]] == end[ok]),
    )
    hh_i = np.flatnonzero(stays["disp"] == "06")
    p = stays["person"][hh_i]
    start = stays["disch"][hh_i] + rng.integers(1, 4, len(p))
    end = start + 29
    ok = is_covered(pop, p, start)
    in2 = (pop.s2[p] >= 0) & (start >= pop.s2[p])
    cover_end = np.where(in2, pop.e2[p], pop.e1[p])
    end = np.minimum(end, cover_end)
    ok &= end > start
    hh = dict(
        person=p[ok],
        start=start[ok],
        end=end[ok],
        visits=rng.integers(4, 14, ok.sum()),
        fac=np.array(W.HH)[rng.integers(0, len(W.HH), ok.sum())],
    )
    return snf, hh


def _hospice(rng, pop, win, stays):
    """About half of Medicare decedents use hospice (MedPAC: ~50%), median stay ~18 days; people who
    die in hospital do not, people discharged to hospice (status 50/51) start it that day."""
    dead = pop.death >= 0
    age = pop.age_at(np.maximum(pop.death, 0))
    p = logistic(
        0.4
        + 0.04 * (age - 75)
        + 0.8 * pop.cond[:, CI["cancer"]]
        + 0.6 * pop.cond[:, CI["dementia"]]
    )
    use = dead & (rng.random(pop.n) < p)
    in_hosp_death = np.zeros(pop.n, bool)
    term = stays["disp"] == "20"
    in_hosp_death[stays["person"][term]] = True
    use &= ~in_hosp_death
    start = pop.death - np.minimum(np.exp(rng.normal(2.9, 1.1, pop.n)).astype(np.int64), 365)
    to_h = np.isin(stays["disp"], ["50", "51"])
    start[stays["person"][to_h]] = stays["disch"][to_h]
    use[stays["person"][to_h]] = True
    person = np.flatnonzero(use)
    st = start[person]
    in2 = (pop.s2[person] >= 0) & (pop.death[person] >= pop.s2[person])
    cs = np.where(in2, pop.s2[person], pop.s1[person])
    st = np.maximum(st, cs)
    ok = st <= pop.death[person]
    person, st = person[ok], st[ok]
    return dict(
        person=person,
        start=st,
        end=pop.death[person],
        fac=np.array(W.HOSPICE)[rng.integers(0, len(W.HOSPICE), len(person))],
    )


# ---------------------------------------------------------------------------------------------
# Medications


DRUG_LIST = [(cls, *d) for cls, ds in codes.DRUGS.items() for d in ds]
DRUG_INDEX = {cls: [i for i, d in enumerate(DRUG_LIST) if d[0] == cls] for cls in codes.DRUGS}


def _regimens(rng, pop):
    """Who takes what. Treatment shares follow NHANES/MEPS-like patterns: metformin first line
    (~75% of treated type 2 diabetes), insulin ~25%, RAS antagonists for most people with
    hypertension plus diabetes, statins for most diabetics 40-75 (SPD) and ASCVD."""
    n = pop.n
    c = pop.cond
    age = pop.age0
    u = rng.random((n, 12))
    dm = c[:, CI["diabetes"]]
    htn = c[:, CI["hypertension"]]
    hf = c[:, CI["heart_failure"]]
    ckd = c[:, CI["ckd"]]
    rows = []

    def take(mask, cls):
        person = np.flatnonzero(mask)
        opts = DRUG_INDEX[cls]
        drug = np.array(opts)[rng.integers(0, len(opts), len(person))]
        rows.append(dict(person=person, drug=drug))

    take(dm & (u[:, 0] < 0.78) & (pop.ckd_stage < 4), "metformin")
    take(dm & (u[:, 1] < 0.18), "sulfonylurea")
    take(dm & (u[:, 2] < 0.12), "dpp4")
    take(dm & (u[:, 3] < 0.18), "sglt2")
    take(dm & (u[:, 4] < 0.12 + 0.25 * (pop.health > 0.8)), "insulin")
    take((htn | hf | (ckd & dm)) & (u[:, 5] < np.where(dm | hf, 0.82, 0.65)), "ras")
    statin_p = np.where(dm & (age >= 40), 0.72, np.where(htn & (age >= 50), 0.4, 0.0))
    statin_p = np.where(hf, 0.7, statin_p)
    take(u[:, 6] < statin_p, "statin")
    resp = c[:, CI["asthma"]] | c[:, CI["copd"]]
    take(resp & (u[:, 7] < 0.8), "inhaler_reliever")
    take(resp & (u[:, 8] < 0.55), "inhaler_controller")
    take(
        (c[:, CI["depression"]] & (u[:, 9] < 0.62)) | (c[:, CI["smi"]] & (u[:, 9] < 0.4)),
        "antidepressant",
    )
    take(c[:, CI["dementia"]] & (u[:, 10] < 0.45), "dementia_drug")
    reg = _cat_concat(rows)
    m = len(reg["person"])
    ds30 = np.array([d[3] for d in DRUG_LIST])[reg["drug"]]
    payer = pop.payer[reg["person"]]
    ninety = (ds30 == 30) & (rng.random(m) < np.choose(payer, [0.45, 0.1, 0.35]))
    inhaler = np.isin(reg["drug"], DRUG_INDEX["inhaler_reliever"] + DRUG_INDEX["insulin"])
    ninety &= ~inhaler
    reg["ds"] = np.where(ninety, 90, ds30)
    reg["qty"] = np.array([d[4] for d in DRUG_LIST], dtype=float)[reg["drug"]] * np.where(
        ninety, 3.0, 1.0
    )
    reg["stop"] = np.where(rng.random(m) < 0.12, rng.integers(120, 1000, m), 10**6)
    return reg


def _fills(rng, pop, win, reg, adh_y, periods):
    """Refill sequences: on-time refills come 0-15% early (early refills); late ones add an
    exponential delay, and a few leave long gaps, so PDC spreads as PQA reports (~80% of Medicare
    Part D members adherent)."""
    m = len(reg["person"])
    if m == 0:
        return dict(
            person=np.zeros(0, np.int64),
            day=np.zeros(0, np.int64),
            drug=np.zeros(0, np.int64),
            ds=np.zeros(0, np.int64),
            qty=np.zeros(0),
            reg=np.zeros(0, np.int64),
        )
    p = reg["person"]
    ds = reg["ds"].astype(float)
    kmax = int(np.ceil(win.days / 25.0)) + 2
    first = pop.s1[p] + (rng.random(m) * np.minimum(ds, 60)).astype(np.int64)
    u = rng.random((m, kmax))
    # Adherence of the year in which each refill falls is approximated by the mean over years.
    adh = adh_y[p].mean(axis=1)[:, None]
    on_time = u < adh
    early = rng.uniform(0.85, 1.0, (m, kmax))
    late = 1.05 + rng.exponential(0.55, (m, kmax))
    gap = np.where(rng.random((m, kmax)) < 0.05, rng.uniform(1.5, 4.0, (m, kmax)), 0.0)
    ratio = np.where(on_time, early, late + gap)
    interval = np.round(ratio * ds[:, None]).astype(np.int64)
    interval[:, 0] = 0
    day = first[:, None] + np.cumsum(interval, axis=1)
    stop = first + reg["stop"]
    keep = (day <= win.end) & (day <= stop[:, None])
    ri, ki = np.nonzero(keep)
    d = day[ri, ki]
    person = p[ri]
    cov = is_covered(pop, person, d)
    ri, d, person = ri[cov], d[cov], person[cov]
    return dict(
        person=person, day=d, drug=reg["drug"][ri], ds=reg["ds"][ri], qty=reg["qty"][ri], reg=ri
    )


# ---------------------------------------------------------------------------------------------
# Vitals and depression screening at EHR office visits


def _vitals(rng, pop, office, sbp_y, periods):
    p = office["person"]
    ehr = pop.in_ehr[p] & (age_of(pop, p, office["day"]) >= 18) & ~office["tele"]
    idx = np.flatnonzero(ehr)
    p = p[idx]
    day = office["day"][idx]
    y = np.clip((day - periods[0][0]) // 365, 0, len(periods) - 1)
    sbp = np.round(sbp_y[p, y] + rng.normal(0, 7, len(p)))
    age = age_of(pop, p, day)
    dbp = np.round(78 + 0.35 * (sbp - 130) - 0.2 * (age - 55) + rng.normal(0, 6, len(p)))
    return dict(person=p, day=day, sbp=np.clip(sbp, 85, 220), dbp=np.clip(dbp, 45, 130), visit=idx)


def _depression_screens(rng, pop, office):
    """Screening at adult visits: mostly at wellness visits (CMS2 / USPSTF), some at other visits."""
    p = office["person"]
    age = age_of(pop, p, office["day"])
    prob = np.where(office["kind"] == 2, logistic(1.0 + 0.5 * pop.engage[p]), 0.2)
    prob = np.where(pop.cond[p, CI["depression"]], prob * 0.5, prob)
    ok = (age >= 12) & (rng.random(len(p)) < prob)
    idx = np.flatnonzero(ok)
    p = p[idx]
    score = np.clip(
        np.round(
            rng.gamma(1.2, 2.5, len(p)) + 4 * pop.social[p].clip(0) + 3 * pop.cond[p, CI["smi"]]
        ),
        0,
        27,
    )
    return dict(person=p, day=office["day"][idx], score=score, visit=idx)


def payer_at(pop: Population, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    in2 = (pop.s2[person] >= 0) & (day >= pop.s2[person])
    return np.where(in2, pop.payer2[person], pop.payer[person])


__all__ = ["CLASSES", "CLASS_INFO", "DRUG_LIST", "LAB_TESTS", "Events", "payer_at", "simulate"]
