"""People: demographics, payer, enrollment spans, deaths, chronic conditions and the latent state.

Everything is a numpy array over the persons of one chunk. The latent structure (documented in
docs/generator.md, which the risk model must not read):

- ``health``  (h): frailty / illness burden, N(0, 1), raised for disabled Medicare members.
- ``social``  (s): social risk from ZIP deprivation and payer; drives the SDOH flags.
- ``engage``  (e): engagement / self-management, lowered by social risk and depression; drives
  screening, testing, medication adherence, follow-up after discharge and disease control.
- ``frailty_u``: persistent person-level utilisation propensity (a log-rate random effect), so past
  use predicts future use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipelines.synthetic import codes

MEDICARE, MEDICAID, COMMERCIAL = 0, 1, 2
PAYER_TYPES = ("medicare", "medicaid", "commercial")
# Share of members by payer for a regional population-health programme. National coverage is about
# 18% Medicare, 21% Medicaid, 55% private (Census CPS-ASEC 2023); we over-weight Medicare so that
# readmissions and Medicare Star measures have volume, as an ACO-like population does.
PAYER_MIX = (0.30, 0.25, 0.45)

RACES = (
    "white",
    "black or african american",
    "asian",
    "american indian or alaska native",
    "other race",
    "unknown",
)
# Race distribution by payer (approximate, Census 2020 and KFF Medicaid enrollee demographics).
RACE_MIX = {
    MEDICARE: (0.76, 0.11, 0.04, 0.01, 0.04, 0.04),
    MEDICAID: (0.46, 0.31, 0.05, 0.01, 0.10, 0.07),
    COMMERCIAL: (0.69, 0.11, 0.07, 0.01, 0.06, 0.06),
}
HISPANIC = {MEDICARE: 0.08, MEDICAID: 0.24, COMMERCIAL: 0.12}

N_COND = len(codes.CONDITIONS)
C = {name: i for i, name in enumerate(codes.CONDITIONS)}


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Window:
    start: int  # days since 1970-01-01
    end: int  # inclusive (the extract's as-of date)

    @property
    def days(self) -> int:
        return self.end - self.start + 1

    @property
    def periods(self) -> list[tuple[int, int]]:
        """365-day blocks from the start; the last block ends at the as-of date."""
        out = []
        s = self.start
        while s <= self.end:
            out.append((s, min(s + 364, self.end)))
            s += 365
        return out


@dataclass
class Population:
    n: int
    gid: np.ndarray  # global person index (1-based)
    payer: np.ndarray  # payer of the first span
    payer2: np.ndarray  # payer of the second span (differs when ageing into Medicare)
    age0: np.ndarray  # age in years at window start (float)
    birth: np.ndarray  # birth day
    female: np.ndarray
    race: np.ndarray
    hispanic: np.ndarray
    zip_idx: np.ndarray
    disabled: np.ndarray  # Medicare under 65 (entitlement by disability)
    dual: np.ndarray
    health: np.ndarray
    social: np.ndarray
    engage: np.ndarray
    frailty_u: np.ndarray
    cond: np.ndarray  # (n, N_COND) bool
    cond_code: np.ndarray  # (n, N_COND) index into the condition's ICD-10-CM tuple
    ckd_stage: np.ndarray  # 0 none, 3..5
    esrd: np.ndarray
    sdoh: np.ndarray  # (n, 3) housing, food, transport (bool)
    sdoh_screened: np.ndarray
    s1: np.ndarray
    e1: np.ndarray
    s2: np.ndarray  # -1 when no second span
    e2: np.ndarray
    death: np.ndarray  # death day or -1
    pcp: np.ndarray  # attributed PCP index (or -1)
    pcp2: np.ndarray  # PCP after a switch (or -1)
    pcp_switch: np.ndarray  # day of the switch (or -1)
    in_ehr: np.ndarray  # seen by the health system (has a patient record)
    complex_care: np.ndarray
    toc: np.ndarray  # enrolled in transitions-of-care at first discharge
    opted_out: np.ndarray
    extras: dict = field(default_factory=dict)

    @property
    def ncc(self) -> np.ndarray:
        return self.cond.sum(axis=1)

    def age_at(self, day) -> np.ndarray:
        return (day - self.birth) / 365.25


def _month_start(day: np.ndarray) -> np.ndarray:
    d = day.astype("datetime64[D]")
    return d.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _month_end(day: np.ndarray) -> np.ndarray:
    d = day.astype("datetime64[D]")
    nxt = (d.astype("datetime64[M]") + 1).astype("datetime64[D]").astype(np.int64)
    return nxt - 1


def make_population(rng: np.random.Generator, gid: np.ndarray, win: Window, n_pcp: int):
    n = len(gid)
    payer = rng.choice(3, size=n, p=PAYER_MIX).astype(np.int8)

    # Age structure by payer: Medicare is mostly 65+ (about 12% entitled by disability, CMS
    # enrollment dashboard); Medicaid and commercial include children (~40% / ~22% of enrollees).
    u = rng.random(n)
    age = np.empty(n)
    m = payer == MEDICARE
    disabled = m & (u < 0.12)
    aged = m & ~disabled
    age[aged] = 65 + np.minimum(rng.gamma(2.0, 5.5, aged.sum()), 36)
    age[disabled] = 25 + 40 * rng.beta(2.5, 1.5, disabled.sum())
    md = payer == MEDICAID
    child = (md & (u < 0.40)) | ((payer == COMMERCIAL) & (u < 0.22))
    age[child] = 18 * rng.random(child.sum())
    md_ad = md & ~child
    age[md_ad] = 18 + 47 * rng.beta(1.3, 2.0, md_ad.sum())
    co_ad = (payer == COMMERCIAL) & ~child
    age[co_ad] = 18 + 47 * rng.beta(1.5, 1.4, co_ad.sum())
    birth = (win.start - age * 365.25).astype(np.int64)

    female = rng.random(n) < np.where(aged, 0.55, np.where(md_ad, 0.58, 0.51))
    race = np.empty(n, dtype=np.int8)
    hispanic = np.empty(n, dtype=bool)
    for p in (MEDICARE, MEDICAID, COMMERCIAL):
        sel = payer == p
        race[sel] = rng.choice(len(RACES), size=sel.sum(), p=RACE_MIX[p])
        hispanic[sel] = rng.random(sel.sum()) < HISPANIC[p]

    # Medicaid members live disproportionately in deprived ZIPs; commercial members the reverse.
    dep = np.array([z[4] for z in codes.ZIPS])
    zip_idx = np.empty(n, dtype=np.int16)
    for p, k in ((MEDICARE, 0.0), (MEDICAID, 2.5), (COMMERCIAL, -1.2)):
        sel = payer == p
        w = np.exp(k * dep)
        zip_idx[sel] = rng.choice(len(dep), size=sel.sum(), p=w / w.sum())
    zdep = dep[zip_idx]

    social = 1.6 * (zdep - 0.5) + 0.7 * md + 0.4 * disabled + rng.normal(0, 0.7, n) - 0.2
    health = rng.normal(0, 1, n) + 0.9 * disabled
    sdoh_p = np.stack(
        [
            logistic(-3.1 + 1.3 * social),
            logistic(-2.3 + 1.3 * social),
            logistic(-2.7 + 1.2 * social),
        ],
        axis=1,
    )
    sdoh = rng.random((n, 3)) < sdoh_p
    sdoh_screened = rng.random(n) < 0.7

    cond = _conditions(rng, age, health, social, female, disabled, md)
    engage = rng.normal(0, 1, n) - 0.35 * social - 0.35 * cond[:, C["depression"]]
    engage -= 0.5 * cond[:, C["smi"]] + 0.4 * cond[:, C["dementia"]]
    frailty_u = rng.normal(0, 0.4, n)

    ckd = cond[:, C["ckd"]]
    stage = np.where(ckd, rng.choice([3, 3, 3, 4, 5], size=n), 0)
    esrd = ckd & (stage == 5) & (rng.random(n) < 0.5)
    cond_code = np.zeros((n, N_COND), dtype=np.int8)
    for name, i in C.items():
        cond_code[:, i] = rng.integers(0, len(codes.CONDITION_ICD10[name]), n)
    # Codes consistent with the state: diabetic CKD is E1122, CKD stage follows the stage drawn.
    cond_code[:, C["diabetes"]] = np.where(ckd, 2, cond_code[:, C["diabetes"]] % 2)
    cond_code[:, C["ckd"]] = np.select([stage == 3, stage == 4, stage == 5], [0, 2, 3], 0)
    cond_code[:, C["cancer"]] = np.where(
        female, rng.choice([0, 1, 2, 3], n), rng.choice([2, 3, 4, 4], n)
    )

    dual = (payer == MEDICARE) & (rng.random(n) < logistic(-1.6 + 1.3 * social))

    s1, e1, s2, e2, payer2 = _enrollment(rng, win, payer, birth, age)
    death = _deaths(rng, win, age, health, cond, payer)
    s1, e1, s2, e2, death = _apply_death(s1, e1, s2, e2, death)

    pcp = np.where(rng.random(n) < 0.9, rng.integers(0, n_pcp, n), -1)
    switch = (pcp >= 0) & (rng.random(n) < 0.1)
    pcp2 = np.where(switch, rng.integers(0, n_pcp, n), -1)
    pcp_switch = np.where(switch, win.start + rng.integers(60, max(61, win.days - 60), n), -1)
    in_ehr = (pcp >= 0) & (rng.random(n) < 0.92)

    risk = health + 0.35 * cond.sum(axis=1)
    complex_care = in_ehr & (risk > 2.3) & (rng.random(n) < 0.45)
    toc = rng.random(n) < np.where(payer == MEDICARE, 0.35, 0.2)
    opted_out = rng.random(n) < logistic(-3.3 - 0.5 * engage)

    return Population(
        n=n,
        gid=gid,
        payer=payer,
        payer2=payer2,
        age0=age,
        birth=birth,
        female=female,
        race=race,
        hispanic=hispanic,
        zip_idx=zip_idx,
        disabled=disabled,
        dual=dual,
        health=health,
        social=social,
        engage=engage,
        frailty_u=frailty_u,
        cond=cond,
        cond_code=cond_code,
        ckd_stage=stage,
        esrd=esrd,
        sdoh=sdoh,
        sdoh_screened=sdoh_screened,
        s1=s1,
        e1=e1,
        s2=s2,
        e2=e2,
        death=death,
        pcp=pcp,
        pcp2=pcp2,
        pcp_switch=pcp_switch,
        in_ehr=in_ehr,
        complex_care=complex_care,
        toc=toc,
        opted_out=opted_out,
    )


def _conditions(rng, age, health, social, female, disabled, medicaid):
    """Chronic conditions: logistic in age (per decade from 50), latent health and social risk, with
    explicit links (diabetes and hypertension raise heart failure and CKD). Intercepts were tuned so
    claims-coded prevalence lands in the ranges of docs/generator.md (CDC NDSR 2021, NHANES, CMS CCW).
    """
    n = len(age)
    dec = (age - 50) / 10
    adult = age >= 18
    z = rng.random((n, N_COND))
    cond = np.zeros((n, N_COND), dtype=bool)

    def draw(name, logit, eligible=adult):
        cond[:, C[name]] = eligible & (z[:, C[name]] < logistic(logit))

    draw("diabetes", -2.15 + 0.6 * np.minimum(dec, 2.2) + 0.4 * health + 0.25 * social)
    dm = cond[:, C["diabetes"]]
    draw(
        "hypertension", -0.15 + 0.6 * np.minimum(dec, 2.0) + 0.3 * health + 0.15 * social + 0.8 * dm
    )
    htn = cond[:, C["hypertension"]]
    draw("heart_failure", -4.7 + 0.75 * dec + 0.6 * health + 0.7 * htn + 0.5 * dm)
    draw("copd", -3.9 + 0.45 * dec + 0.5 * health + 0.5 * social, adult & (age >= 35))
    draw("asthma", -2.7 + 0.3 * health + 0.3 * social - 0.05 * dec, age >= 2)
    hf = cond[:, C["heart_failure"]]
    draw("ckd", -3.9 + 0.6 * dec + 0.45 * health + 0.9 * dm + 0.6 * htn + 0.5 * hf)
    draw("depression", -2.0 + 0.35 * health + 0.35 * social + 0.35 * female - 0.1 * dec, age >= 12)
    draw("smi", -4.6 + 0.3 * health + 0.5 * social + 1.6 * disabled + 0.6 * medicaid)
    draw("cancer", -4.6 + 0.55 * dec + 0.35 * health)
    draw("dementia", -7.1 + 1.05 * dec + 0.3 * health, age >= 55)
    return cond


def _enrollment(rng, win: Window, payer, birth, age):
    """Up to two coverage spans per person, month-aligned, with churn and re-enrolment gaps.

    Annual disenrolment hazards follow published churn: Medicaid ~22%/yr, commercial ~18%/yr,
    Medicare ~4%/yr (KFF / MACPAC continuity-of-coverage analyses). Members reaching 65 switch to
    Medicare in their birthday month (a payer change without a gap).
    """
    n = len(payer)
    start, end = win.start, win.end
    present = rng.random(n) < np.choose(payer, [0.9, 0.7, 0.75])
    join = start + (rng.random(n) * (win.days - 31)).astype(np.int64)
    s1 = np.where(present, start, np.maximum(_month_start(join), start))
    hazard = np.choose(payer, [0.04, 0.22, 0.18])
    t = rng.exponential(365.25 / hazard)
    e1 = np.minimum(_month_end(s1 + t.astype(np.int64)), end)
    ended = e1 < end
    reenrol = ended & (rng.random(n) < np.choose(payer, [0.3, 0.55, 0.4]))
    gap_months = rng.integers(1, 9, n)
    s2 = _month_start(e1 + 1 + 30 * gap_months)
    t2 = rng.exponential(365.25 / hazard)
    e2 = np.minimum(_month_end(s2 + t2.astype(np.int64)), end)
    ok2 = reenrol & (s2 <= end)
    s2 = np.where(ok2, s2, -1)
    e2 = np.where(ok2, e2, -1)
    payer2 = payer.copy()

    # Ageing into Medicare during span 1 (or span 2) splits the span at the birthday month.
    b65 = _month_start(birth + (65 * 365.25)).astype(np.int64)
    young = (payer != MEDICARE) & (age < 65)
    in1 = young & (b65 > s1) & (b65 <= e1)
    s2 = np.where(in1, b65, s2)
    e2 = np.where(in1, e1, e2)
    e1 = np.where(in1, b65 - 1, e1)
    in2 = young & ~in1 & (s2 >= 0) & (b65 <= e2)
    s2 = np.where(in2, np.maximum(s2, b65), s2)
    payer2 = np.where(in1 | in2, MEDICARE, payer2).astype(np.int8)
    return s1, e1, s2, e2, payer2


def _deaths(rng, win: Window, age, health, cond, payer):
    """Gompertz-like annual mortality, ~4.5%/yr among Medicare 65+ (CMS: ~4-5% of beneficiaries die
    each year), raised by latent health and serious conditions."""
    serious = cond[:, [C["heart_failure"], C["cancer"], C["dementia"], C["copd"]]].sum(axis=1)
    q = np.exp(-10.0 + 0.085 * age + 0.45 * health + 0.35 * serious)
    q = np.minimum(q, 0.6)
    t = rng.exponential(365.25 / q)
    day = win.start + t.astype(np.int64)
    return np.where(day <= win.end, day, -1)


def _apply_death(s1, e1, s2, e2, death):
    dead = death >= 0
    # Death before coverage starts: the person never appears as a decedent in this extract.
    before = dead & (death < s1)
    death = np.where(before, -1, death)
    dead = death >= 0
    in1 = dead & (death <= e1)
    e1 = np.where(in1, death, e1)
    s2 = np.where(in1, -1, s2)
    e2 = np.where(in1, -1, e2)
    in_gap = dead & ~in1 & ((s2 < 0) | (death < s2))
    # Death in a coverage gap: nothing after it; death known from the EHR only.
    s2 = np.where(in_gap, -1, s2)
    e2 = np.where(in_gap, -1, e2)
    in2 = dead & ~in1 & ~in_gap
    e2 = np.where(in2, np.minimum(e2, death), e2)
    return s1, e1, s2, e2, death


def covered_segments(pop: Population, lo: int, hi: int):
    """Per person, the parts of spans 1 and 2 inside [lo, hi]: (a_start, a_len, b_start, b_len)."""
    a_s = np.maximum(pop.s1, lo)
    a_e = np.minimum(pop.e1, hi)
    a_len = np.maximum(a_e - a_s + 1, 0)
    has2 = pop.s2 >= 0
    b_s = np.where(has2, np.maximum(pop.s2, lo), 0)
    b_e = np.where(has2, np.minimum(pop.e2, hi), -1)
    b_len = np.maximum(b_e - b_s + 1, 0)
    return a_s, a_len, b_s, b_len


def is_covered(pop: Population, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    in1 = (day >= pop.s1[person]) & (day <= pop.e1[person])
    s2 = pop.s2[person]
    in2 = (s2 >= 0) & (day >= s2) & (day <= pop.e2[person])
    return in1 | in2


def payer_on(pop: Population, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    in2 = (pop.s2[person] >= 0) & (day >= pop.s2[person])
    return np.where(in2, pop.payer2[person], pop.payer[person])


def span_end(pop: Population, person: np.ndarray, day: np.ndarray) -> np.ndarray:
    in2 = (pop.s2[person] >= 0) & (day >= pop.s2[person])
    return np.where(in2, pop.e2[person], pop.e1[person])
