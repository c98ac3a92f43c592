"""Turn one chunk's people and events into the twelve contract tables (polars DataFrames with exactly
the contract's columns, in order, with the contract's types)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.contract import TABLES
from pipelines.synthetic import codes
from pipelines.synthetic import world as W
from pipelines.synthetic.events import CLASS_INFO, CLASSES, DRUG_LIST, LAB_TESTS, Events, payer_at
from pipelines.synthetic.population import (
    COMMERCIAL,
    MEDICAID,
    MEDICARE,
    PAYER_TYPES,
    RACES,
    Population,
    Window,
)
from pipelines.synthetic.population import C as CI

NULL_DAY = -(10**9)

PL_TYPES = {
    "varchar": pl.String,
    "date": pl.Date,
    "timestamp": pl.Datetime("us"),
    "integer": pl.Int32,
    "decimal(18,2)": pl.Decimal(18, 2),
    "double": pl.Float64,
    "boolean": pl.Boolean,
}

PAYER_NAME = ("medicare advantage", "ohio medicaid", "buckeye commercial")
PLAN_NAME = ("ma hmo", "medicaid managed care", "ppo")
CLAIMS_SOURCE = "popcare_synthetic_claims"
EHR_SOURCE = "popcare_synthetic_ehr"


class Builder:
    """Collects columns for one table; strings are vocab ids resolved at the end."""

    def __init__(self, world: W.World, chunk: int, win: Window):
        self.V = world.vocab
        self.world = world
        self.chunk = chunk
        self.win = win

    def vi(self, values) -> np.ndarray:
        """Vocab ids for an array of strings (few distinct values)."""
        arr = np.asarray(values)
        if arr.size == 0:
            return np.zeros(0, np.int32)
        uniq, inv = np.unique(arr, return_inverse=True)
        return self.V.many([str(u) for u in uniq])[inv]

    def strings(self, idx: np.ndarray) -> pl.Series:
        vals = pl.Series([*self.V.values, None], dtype=pl.String)
        idx = np.asarray(idx)
        return vals.gather(np.where(idx < 0, len(self.V.values), idx).astype(np.int64))

    def ids(self, prefix: str, seq: np.ndarray, suffix: np.ndarray | None = None) -> pl.Series:
        s = pl.Series(np.asarray(seq, dtype=np.int64)).cast(pl.String).str.zfill(9)
        head = f"{prefix}{self.chunk:04d}"
        out = pl.select(pl.concat_str([pl.lit(head), s])).to_series()
        if suffix is not None:
            out = pl.select(
                pl.concat_str([out, self.strings(suffix)], ignore_nulls=True)
            ).to_series()
        return out

    def conform(self, table: str, cols: dict, height: int) -> pl.DataFrame:
        out = []
        for col in TABLES[table].columns:
            dtype = PL_TYPES[col.sql_type]
            v = cols.get(col.name)
            if v is None:
                s = pl.repeat(None, height, dtype=dtype, eager=True).alias(col.name)
            elif isinstance(v, tuple) and v[0] == "v":
                s = self.strings(v[1]).alias(col.name)
            elif isinstance(v, tuple) and v[0] == "d":
                s = days_to_date(v[1]).alias(col.name)
            elif isinstance(v, tuple) and v[0] == "ts":
                s = (
                    days_to_date(v[1]).cast(pl.Datetime("us"))
                    + pl.Series(v[2] * 1_000_000).cast(pl.Duration("us"))
                ).alias(col.name)
            elif isinstance(v, tuple) and v[0] == "s":  # a constant string
                s = pl.repeat(v[1], height, dtype=pl.String, eager=True).alias(col.name)
            elif isinstance(v, pl.Series):
                s = v.alias(col.name)
            else:
                arr = np.asarray(v)
                if dtype == pl.Decimal(18, 2):
                    s = pl.Series(col.name, np.round(arr.astype(float), 2), nan_to_null=True)
                elif arr.dtype.kind == "f":
                    s = pl.Series(col.name, arr, nan_to_null=True)
                else:
                    s = pl.Series(col.name, arr)
            if s.dtype != dtype:
                s = s.cast(dtype)
            out.append(s)
        return pl.DataFrame(out)


def days_to_date(days: np.ndarray) -> pl.Series:
    arr = np.asarray(days, dtype=np.int64)
    s = pl.Series(arr.astype(np.int32)).cast(pl.Date)
    null = np.flatnonzero(arr <= NULL_DAY)
    if len(null):
        s = s.scatter(null, None)
    return s


def person_ids(pop: Population) -> pl.Series:
    return pl.select(
        pl.concat_str([pl.lit("P"), pl.Series(pop.gid).cast(pl.String).str.zfill(8)])
    ).to_series()


def ingest_ts(win: Window) -> tuple:
    # No wall-clock time in the data: the extract's load time is 06:00 on its as-of date.
    return win.end, 6 * 3600


# ---------------------------------------------------------------------------------------------


def build_all(pop: Population, ev: Events, win: Window, world: W.World, chunk: int, rng) -> dict:
    b = Builder(world, chunk, win)
    pid = person_ids(pop)
    ctx = _Ctx(b, pop, ev, win, world, pid, rng)
    return {
        "eligibility": ctx.eligibility(),
        "medical_claim": ctx.medical_claim(),
        "pharmacy_claim": ctx.pharmacy_claim(),
        "patient": ctx.patient(),
        "encounter": ctx.encounter(),
        "condition": ctx.condition(),
        "procedure": ctx.procedure(),
        "lab_result": ctx.lab_result(),
        "observation": ctx.observation(),
        "medication": ctx.medication(),
        "provider_attribution": ctx.provider_attribution(),
        "registry": ctx.registry(),
    }


class _Ctx:
    def __init__(self, b: Builder, pop, ev, win, world, pid, rng):
        self.b, self.pop, self.ev, self.win, self.world, self.pid, self.rng = (
            b,
            pop,
            ev,
            win,
            world,
            pid,
            rng,
        )
        V = b.V
        n = pop.n
        # Per-person chronic ICD-10-CM codes, most important first, for secondary diagnoses.
        mat = np.full((n, len(codes.CONDITIONS)), -1, dtype=np.int32)
        for name, i in CI.items():
            ids = V.many(codes.CONDITION_ICD10[name])
            mat[:, i] = np.where(pop.cond[:, i], ids[pop.cond_code[:, i]], -1)
        order = np.argsort(mat < 0, axis=1, kind="stable")
        self.pdx = np.take_along_axis(mat, order, axis=1)[:, :4]
        self.esrd_dx = V["Z992"]
        names = rng.integers(0, 10**6, (n, 3))
        f = np.array(codes.FIRST_NAMES_F)
        m = np.array(codes.FIRST_NAMES_M)
        self.first = np.where(pop.female, f[names[:, 0] % len(f)], m[names[:, 0] % len(m)])
        self.middle = np.where(pop.female, f[names[:, 1] % len(f)], m[names[:, 1] % len(m)])
        self.last = np.array(codes.LAST_NAMES)[names[:, 2] % len(codes.LAST_NAMES)]
        self.phone = np.where(
            rng.random(n) < 0.95,
            np.char.add("614555", np.char.zfill(rng.integers(0, 10000, n).astype(str), 4)),
            "",
        )
        self.street_no = rng.integers(10, 9999, n)
        streets = np.array(
            ["Main St", "High St", "Broad St", "Oak Ave", "Elm St", "Park Rd", "Lake Dr"]
        )
        self.street = streets[rng.integers(0, len(streets), n)]
        zips = codes.ZIPS
        self.zip = np.array([z[0] for z in zips])[pop.zip_idx]
        self.city = np.array([z[1] for z in zips])[pop.zip_idx]
        self.lat = np.array([z[2] for z in zips])[pop.zip_idx] + rng.normal(0, 0.01, n)
        self.lon = np.array([z[3] for z in zips])[pop.zip_idx] + rng.normal(0, 0.01, n)
        self.ssn = np.char.add("9", np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8))
        # The PCP in effect on a day (after a switch, the new one).
        self._pcp = pop.pcp
        self._claim_seq = 0

    # ---- helpers ----
    def pcp_on(self, person, day):
        pop = self.pop
        pcp = np.where(
            (pop.pcp_switch[person] >= 0) & (day >= pop.pcp_switch[person]),
            pop.pcp2[person],
            pop.pcp[person],
        )
        # Unattributed people see some clinician anyway.
        return np.where(pcp >= 0, pcp, person % self.world.n_pcp)

    def payer_cols(self, person, day):
        pt = payer_at(self.pop, person, day)
        V = self.b.V
        return (
            V.many(PAYER_NAME)[pt],
            V.many(PLAN_NAME)[pt],
            pt,
        )

    def pid_of(self, person):
        return self.pid.gather(np.asarray(person, dtype=np.int64))

    def ts(self, day, seconds=None):
        if seconds is None:
            seconds = np.zeros(len(day), dtype=np.int64)
        return ("ts", day, seconds)

    def common_tail(self, table, height):
        end_day, secs = ingest_ts(self.win)
        return {
            "file_name": ("s", f"{table}.csv"),
            "file_date": ("d", np.full(height, end_day)),
            "ingest_datetime": ("ts", np.full(height, end_day), np.full(height, secs)),
        }

    # ---- eligibility ----
    def eligibility(self):
        pop, b, V = self.pop, self.b, self.b.V
        n = pop.n
        has2 = pop.s2 >= 0
        person = np.r_[np.arange(n), np.flatnonzero(has2)]
        start = np.r_[pop.s1, pop.s2[has2]]
        end = np.r_[pop.e1, pop.e2[has2]]
        payer = np.r_[pop.payer, pop.payer2[has2]]
        order = np.lexsort((start, person))
        person, start, end, payer = person[order], start[order], end[order], payer[order]
        h = len(person)
        age = (start - pop.birth[person]) / 365.25
        medicare = payer == MEDICARE
        dual = pop.dual[person] & medicare
        disabled = pop.disabled[person]
        esrd = pop.esrd[person]
        orec = np.where(medicare, np.where(esrd & disabled, "3", np.where(disabled, "1", "0")), "")
        status = np.where(
            medicare,
            np.select([age < 65, esrd], [np.where(esrd, "21", "20"), "11"], "10"),
            "",
        )
        dual_code = np.where(
            medicare, np.where(dual, np.where(self.rng.random(h) < 0.7, "02", "01"), "NA"), ""
        )
        hospice = np.zeros(pop.n, bool)
        hospice[self.ev.hospice["person"]] = True
        months = np.maximum((end - start + 1) / 30.44, 0).round().astype(np.int32)
        death = pop.death[person]
        cols = {
            "person_id": self.pid_of(person),
            "member_id": self.pid_of(person),
            "subscriber_id": self.pid_of(person),
            "gender": ("v", b.vi(np.where(pop.female[person], "female", "male"))),
            "race": ("v", V.many(RACES)[pop.race[person]]),
            "birth_date": ("d", pop.birth[person]),
            "death_date": ("d", np.where(death >= 0, death, NULL_DAY)),
            "death_flag": (death >= 0).astype(np.int32),
            "enrollment_start_date": ("d", start),
            "enrollment_end_date": ("d", end),
            "payer": ("v", V.many(PAYER_NAME)[payer]),
            "payer_type": ("v", V.many(PAYER_TYPES)[payer]),
            "plan": ("v", V.many(PLAN_NAME)[payer]),
            "original_reason_entitlement_code": ("v", _blank_null(b, orec)),
            "dual_status_code": ("v", _blank_null(b, dual_code)),
            "medicare_status_code": ("v", _blank_null(b, status)),
            "enrollment_status": ("v", b.vi(np.where(end >= self.win.end, "active", "terminated"))),
            "hospice_flag": hospice[person].astype(np.int32),
            "medicaid_indicator": ((payer == MEDICAID) | dual).astype(np.int32),
            "long_term_institutional_flag": np.zeros(h, np.int32),
            "enrollment_duration_months": months,
            "esrd_status": (
                "v",
                _blank_null(b, np.where(medicare & esrd, "Y", np.where(medicare, "N", ""))),
            ),
            "first_name": ("v", b.vi(self.first[person])),
            "middle_name": ("v", b.vi(self.middle[person])),
            "last_name": ("v", b.vi(self.last[person])),
            "social_security_number": pl.Series(self.ssn[person]),
            "subscriber_relation": ("s", "self"),
            "address": pl.Series(
                np.char.add(
                    np.char.add(self.street_no[person].astype(str), " "), self.street[person]
                )
            ),
            "city": ("v", b.vi(self.city[person])),
            "state": ("s", "OH"),
            "zip_code": ("v", b.vi(self.zip[person])),
            "phone": ("v", _blank_null(b, self.phone[person])),
            "ethnicity": (
                "v",
                b.vi(
                    np.where(pop.hispanic[person], "hispanic or latino", "not hispanic or latino")
                ),
            ),
            "data_source": ("s", CLAIMS_SOURCE),
            **self.common_tail("eligibility", h),
        }
        return b.conform("eligibility", cols, h)

    # ---- medical claims ----
    def medical_claim(self):
        lines = MedicalLines(self)
        lines.inpatient(self.ev.stays)
        lines.ed(self.ev.ed)
        lines.observation(self.ev.obs)
        lines.office(self.ev.office)
        lines.labs(self.ev.labs)
        lines.screens(self.ev.screens)
        lines.post_acute(self.ev.snf, self.ev.hh, self.ev.hospice)
        return lines.frame()

    # ---- pharmacy ----
    def pharmacy_claim(self):
        f = self.ev.fills
        b, V, rng = self.b, self.b.V, self.rng
        h = len(f["person"])
        person, day = f["person"], f["day"]
        payer_n, plan_n, pt = self.payer_cols(person, day)
        unit = np.array([_unit_cost(d[1]) for d in DRUG_LIST])[f["drug"]]
        allowed = np.round(unit * f["qty"] * rng.uniform(0.9, 1.1, h), 2)
        copay = np.choose(
            pt, [np.minimum(allowed, 10.0), np.minimum(allowed, 3.0), np.minimum(allowed, 15.0)]
        )
        paid = np.maximum(allowed - copay, 0)
        # Reversals (NCPDP B2): ~1% of fills are reversed, arriving as a second row with negated
        # amounts and quantity under the same claim id plus "-R".
        rev = rng.random(h) < 0.01
        ri = np.flatnonzero(rev)
        seq = np.arange(h)
        claim = b.ids("R", seq)
        claim = pl.concat([claim, b.ids("R", seq[ri], np.full(len(ri), V["-R"]))])
        idx = np.r_[np.arange(h), ri]
        sign = np.r_[np.ones(h), -np.ones(len(ri))]
        order = np.lexsort((sign < 0, idx, day[idx], person[idx]))
        idx, sign, claim = idx[order], sign[order], claim.gather(order)
        ndc = V.many([d[1] for d in DRUG_LIST])
        pcp = self.pcp_on(person, day)
        paid_day = np.minimum(day[idx] + rng.integers(0, 3, len(idx)), self.win.end)
        # Each person mostly uses one pharmacy; a quarter of fills go by mail (90-day supplies).
        home = np.array(W.PHARMACY)[(self.pop.gid[person] % 2)]
        pharmacy = np.where(f["ds"] == 90, W.PHARMACY[2], home)
        cols = {
            "claim_id": claim,
            "claim_line_number": np.ones(len(idx), np.int32),
            "person_id": self.pid_of(person[idx]),
            "member_id": self.pid_of(person[idx]),
            "payer": ("v", payer_n[idx]),
            "plan": ("v", plan_n[idx]),
            "prescribing_provider_npi": ("v", self.world.pcp_npi[pcp[idx]]),
            "dispensing_provider_npi": ("v", self.world.facility_npi[pharmacy[idx]]),
            "dispensing_date": ("d", day[idx]),
            "ndc_code": ("v", ndc[f["drug"][idx]]),
            "quantity": f["qty"][idx] * sign,
            "days_supply": f["ds"][idx].astype(np.int32),
            "refills": np.full(len(idx), 5, np.int32),
            "paid_date": ("d", paid_day),
            "paid_amount": paid[idx] * sign,
            "allowed_amount": allowed[idx] * sign,
            "charge_amount": np.round(allowed[idx] * 1.3, 2) * sign,
            "coinsurance_amount": np.zeros(len(idx)),
            "copayment_amount": copay[idx] * sign,
            "deductible_amount": np.zeros(len(idx)),
            "in_network_flag": np.ones(len(idx), bool),
            "data_source": ("s", CLAIMS_SOURCE),
            **self.common_tail("pharmacy_claim", len(idx)),
        }
        return b.conform("pharmacy_claim", cols, len(idx))

    # ---- EHR ----
    def patient(self):
        pop, b = self.pop, self.b
        person = np.flatnonzero(pop.in_ehr)
        h = len(person)
        V = b.V
        death = pop.death[person]
        cols = {
            "person_id": self.pid_of(person),
            "patient_id": pl.select(
                pl.concat_str(
                    [pl.lit("MRN"), pl.Series(pop.gid[person] * 7 + 1000003).cast(pl.String)]
                )
            ).to_series(),
            "first_name": ("v", b.vi(self.first[person])),
            "middle_name": ("v", b.vi(self.middle[person])),
            "last_name": ("v", b.vi(self.last[person])),
            "sex": ("v", b.vi(np.where(pop.female[person], "female", "male"))),
            "race": ("v", V.many(RACES)[pop.race[person]]),
            "birth_date": ("d", pop.birth[person]),
            "death_date": ("d", np.where(death >= 0, death, NULL_DAY)),
            "death_flag": (death >= 0).astype(np.int32),
            "social_security_number": pl.Series(self.ssn[person]),
            "address": pl.Series(
                np.char.add(
                    np.char.add(self.street_no[person].astype(str), " "), self.street[person]
                )
            ),
            "city": ("v", b.vi(self.city[person])),
            "state": ("s", "OH"),
            "zip_code": ("v", b.vi(self.zip[person])),
            "county": ("s", "Franklin"),
            "latitude": np.round(self.lat[person], 5),
            "longitude": np.round(self.lon[person], 5),
            "phone": ("v", _blank_null(b, self.phone[person])),
            "ethnicity": (
                "v",
                b.vi(
                    np.where(pop.hispanic[person], "hispanic or latino", "not hispanic or latino")
                ),
            ),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "patient.csv"),
            "ingest_datetime": self.common_tail("patient", h)["ingest_datetime"],
        }
        return b.conform("patient", cols, h)

    def _ehr_encounters(self):
        """Encounters the health system's EHR holds: visits at its practices, stays and ED visits at
        its hospitals. Returns arrays plus the index maps used by labs and vitals."""
        pop, ev, _rng = self.pop, self.ev, self.rng
        system = np.array([f[2] for f in W.FACILITIES])
        parts = []
        s = ev.stays
        keep = pop.in_ehr[s["person"]] & system[s["fac"]]
        i = np.flatnonzero(keep)
        parts.append(
            dict(
                person=s["person"][i],
                start=s["admit"][i],
                end=s["disch"][i],
                etype=np.full(len(i), "acute inpatient"),
                fac=s["fac"][i],
                dx=self._principal_dx(s["cls"][i], s["person"][i]),
                drg=self._drg(s["cls"][i], s["sev"][i]),
                disp=s["disp"][i],
                atype=s["atype"][i],
                asrc=s["asrc"][i],
                src=np.full(len(i), 0),
                ref=i,
            )
        )
        e = ev.ed
        keep = pop.in_ehr[e["person"]] & system[e["fac"]]
        i = np.flatnonzero(keep)
        parts.append(
            dict(
                person=e["person"][i],
                start=e["day"][i],
                end=e["day"][i],
                etype=np.full(len(i), "emergency department"),
                fac=e["fac"][i],
                dx=self.b.V.many(codes.ED_DIAGNOSES)[e["dx"][i]],
                drg=np.full(len(i), -1),
                disp=np.full(len(i), "01"),
                atype=np.full(len(i), ""),
                asrc=np.full(len(i), ""),
                src=np.full(len(i), 1),
                ref=i,
            )
        )
        o = ev.obs
        keep = pop.in_ehr[o["person"]] & system[o["fac"]]
        i = np.flatnonzero(keep)
        parts.append(
            dict(
                person=o["person"][i],
                start=o["day"][i],
                end=o["end"][i],
                etype=np.full(len(i), "observation"),
                fac=o["fac"][i],
                dx=self._principal_dx(o["cls"][i], o["person"][i]),
                drg=np.full(len(i), -1),
                disp=np.full(len(i), "01"),
                atype=np.full(len(i), ""),
                asrc=np.full(len(i), ""),
                src=np.full(len(i), 2),
                ref=i,
            )
        )
        v = ev.office
        keep = self.office_in_ehr
        i = np.flatnonzero(keep)
        parts.append(
            dict(
                person=v["person"][i],
                start=v["day"][i],
                end=v["day"][i],
                etype=np.where(v["tele"][i], "telehealth", "office visit"),
                fac=np.full(len(i), -1),
                dx=self.office_dx[i],
                drg=np.full(len(i), -1),
                disp=np.full(len(i), ""),
                atype=np.full(len(i), ""),
                asrc=np.full(len(i), ""),
                src=np.full(len(i), 3),
                ref=i,
            )
        )
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["seq"] = np.arange(len(out["person"]))
        return out

    @property
    def office_in_ehr(self):
        if not hasattr(self, "_office_ehr"):
            v = self.ev.office
            self._office_ehr = self.pop.in_ehr[v["person"]] & (
                self.rng.random(len(v["person"])) < 0.85
            )
            self._office_dx_cache = self._office_dx(v)
        return self._office_ehr

    @property
    def office_dx(self):
        _ = self.office_in_ehr
        return self._office_dx_cache

    def _office_dx(self, v):
        V, rng = self.b.V, self.rng
        p = v["person"]
        n = len(p)
        chronic = self.pdx[p, 0]
        generic = V.many(codes.OFFICE_DIAGNOSES)[rng.integers(1, len(codes.OFFICE_DIAGNOSES), n)]
        dx = np.where((chronic >= 0) & (rng.random(n) < 0.75), chronic, generic)
        dx = np.where(v["kind"] == 2, V["Z0000"], dx)
        dx = np.where(v["kind"] == 3, V["Z09"], dx)
        return dx

    def _principal_dx(self, cls, person):
        V, rng = self.b.V, self.rng
        n = len(cls)
        pick = rng.integers(0, 3, n)
        table = np.full((len(CLASSES), 3), -1, dtype=np.int32)
        for i, c in enumerate(CLASSES):
            cs = CLASS_INFO[c][0]
            table[i] = V.many([cs[j % len(cs)] for j in range(3)])
        return table[cls, pick]

    def _drg(self, cls, sev):
        V = self.b.V
        table = np.array([V.many(CLASS_INFO[c][1]) for c in CLASSES])
        return table[cls, sev]

    def encounter(self):
        b, V = self.b, self.b.V
        e = self._ehr_encounters()
        self._enc = e
        h = len(e["person"])
        fac = e["fac"]
        att = np.where(
            e["src"] == 3,
            self.world.pcp_npi[self.pcp_on(e["person"], e["start"])],
            self.world.hospitalist_npi[e["person"] % len(self.world.hospitalist_npi)],
        )
        los = np.where(e["src"] == 0, e["end"] - e["start"], -1)
        cols = {
            "encounter_id": b.ids("E", e["seq"]),
            "person_id": self.pid_of(e["person"]),
            "patient_id": self.pid_of(e["person"]),
            "encounter_type": ("v", b.vi(e["etype"])),
            "encounter_start_date": ("d", e["start"]),
            "encounter_end_date": ("d", e["end"]),
            "length_of_stay": pl.Series(np.where(los >= 0, los, np.nan), nan_to_null=True),
            "admit_source_code": ("v", _blank_null(b, e["asrc"])),
            "admit_type_code": ("v", _blank_null(b, e["atype"])),
            "discharge_disposition_code": ("v", _blank_null(b, e["disp"])),
            "attending_provider_id": ("v", att),
            "facility_npi": (
                "v",
                np.where(fac >= 0, self.world.facility_npi[np.maximum(fac, 0)], -1),
            ),
            "facility_name": (
                "v",
                np.where(fac >= 0, self.world.facility_name[np.maximum(fac, 0)], -1),
            ),
            "primary_diagnosis_code_type": ("s", "icd-10-cm"),
            "primary_diagnosis_code": ("v", e["dx"]),
            "drg_code_type": ("v", np.where(e["drg"] >= 0, V["ms-drg"], -1)),
            "drg_code": ("v", e["drg"]),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "encounter.csv"),
            "ingest_datetime": self.common_tail("encounter", h)["ingest_datetime"],
        }
        return b.conform("encounter", cols, h)

    def _enc_id_for_office(self, office_idx):
        """Encounter ids of office visits (-1 where the visit is not in the EHR)."""
        e = self._enc
        m = np.full(len(self.ev.office["person"]), -1, dtype=np.int64)
        sel = e["src"] == 3
        m[e["ref"][sel]] = e["seq"][sel]
        return m[office_idx]

    def condition(self):
        pop, b, V, rng = self.pop, self.b, self.b.V, self.rng
        ehr = pop.in_ehr
        pi, ci = np.nonzero(pop.cond & ehr[:, None])
        h1 = len(pi)
        snomed = rng.random(h1) < 0.4
        icd_ids = np.zeros(h1, np.int32)
        for name, i in CI.items():
            sel = ci == i
            icd_ids[sel] = V.many(codes.CONDITION_ICD10[name])[pop.cond_code[pi[sel], i]]
        sno_ids = V.many([codes.CONDITION_SNOMED[c] for c in codes.CONDITIONS])[ci]
        code = np.where(snomed, sno_ids, icd_ids)
        ctype = np.where(snomed, V["snomed-ct"], V["icd-10-cm"])
        desc = V.many([codes.CONDITION_LABEL[c] for c in codes.CONDITIONS])[ci]
        onset = self.win.start - rng.integers(30, 3650, h1)
        recorded = np.maximum(onset + rng.integers(0, 400, h1), pop.s1[pi] - 365)
        # Encounter diagnoses of EHR stays and ED visits (rank 1 = principal).
        e = self._enc
        sel = np.flatnonzero(e["src"] < 3)
        h2 = len(sel)
        person = np.r_[pi, e["person"][sel]]
        h = h1 + h2
        cols = {
            "condition_id": b.ids("CN", np.arange(h)),
            "payer": None,
            "person_id": self.pid_of(person),
            "patient_id": self.pid_of(person),
            "encounter_id": pl.concat(
                [pl.Series([None] * h1, dtype=pl.String), b.ids("E", e["seq"][sel])]
            ),
            "recorded_date": ("d", np.r_[recorded, e["start"][sel]]),
            "onset_date": ("d", np.r_[onset, np.full(h2, NULL_DAY)]),
            "status": ("v", np.r_[np.full(h1, V["active"]), np.full(h2, V["active"])]),
            "condition_type": (
                "v",
                np.r_[np.full(h1, V["problem"]), np.full(h2, V["discharge_diagnosis"])],
            ),
            "source_code_type": ("v", np.r_[ctype, np.full(h2, V["icd-10-cm"])]),
            "source_code": ("v", np.r_[code, e["dx"][sel]]),
            "source_description": ("v", np.r_[desc, np.full(h2, -1)]),
            "condition_rank": pl.Series(np.r_[np.full(h1, np.nan), np.ones(h2)], nan_to_null=True),
            "present_on_admit_code": (
                "v",
                np.r_[np.full(h1, -1), np.where(e["src"][sel] == 0, V["Y"], -1)],
            ),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "condition.csv"),
            "ingest_datetime": self.common_tail("condition", h)["ingest_datetime"],
        }
        return b.conform("condition", cols, h)

    def procedure(self):
        _pop, b, V, rng = self.pop, self.b, self.b.V, self.rng
        s = self.ev.screens
        sel = np.flatnonzero(s["in_system"] & (s["kind"] <= 1))
        kind = s["kind"][sel]
        cpt = np.where(kind == 0, V["77067"], V["45378"])
        sno = np.where(
            kind == 0, V[codes.SNOMED_PROC["mammography"]], V[codes.SNOMED_PROC["colonoscopy"]]
        )
        use_sno = rng.random(len(sel)) < 0.3
        hist = self.ev.history
        hn = len(hist["person"])
        hist_pcs = rng.random(hn) < 0.3
        # Inpatient procedures recorded at the system's hospitals.
        e = self._enc
        st = self.ev.stays
        ip = np.flatnonzero(e["src"] == 0)
        pcs = self._stay_pcs(st["cls"][e["ref"][ip]], st["person"][e["ref"][ip]])
        ip = ip[pcs >= 0]
        pcs = pcs[pcs >= 0]
        person = np.r_[s["person"][sel], hist["person"], e["person"][ip]]
        day = np.r_[s["day"][sel], hist["day"], e["start"][ip]]
        code = np.r_[
            np.where(use_sno, sno, cpt),
            np.where(hist_pcs, V[codes.PCS_COLONOSCOPY], V[codes.SNOMED_PROC["colonoscopy"]]),
            pcs,
        ]
        ctype = np.r_[
            np.where(use_sno, V["snomed-ct"], V["hcpcs"]),
            np.where(hist_pcs, V["icd-10-pcs"], V["snomed-ct"]),
            np.full(len(ip), V["icd-10-pcs"]),
        ]
        enc = np.r_[np.full(len(sel) + hn, -1), e["seq"][ip]]
        h = len(person)
        enc_ids = b.ids("E", np.maximum(enc, 0))
        null = np.flatnonzero(enc < 0)
        if len(null):
            enc_ids = enc_ids.scatter(null, None)
        cols = {
            "procedure_id": b.ids("PX", np.arange(h)),
            "person_id": self.pid_of(person),
            "patient_id": self.pid_of(person),
            "encounter_id": enc_ids,
            "procedure_date": ("d", day),
            "source_code_type": ("v", ctype),
            "source_code": ("v", code),
            "practitioner_id": ("v", self.world.gi_npi[person % len(self.world.gi_npi)]),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "procedure.csv"),
            "ingest_datetime": self.common_tail("procedure", h)["ingest_datetime"],
        }
        return b.conform("procedure", cols, h)

    def _stay_pcs(self, cls, person):
        V = self.b.V
        table = np.array([V[CLASS_INFO[c][4]] if CLASS_INFO[c][4] else -1 for c in CLASSES])
        pcs = table[cls]
        # Dialysis during the stay for people with ESRD; transfusion for some GI bleeds.
        pcs = np.where((pcs < 0) & self.pop.esrd[person], V["5A1D70Z"], pcs)
        gi = (cls == CLASSES.index("gi_bleed")) & (person % 2 == 0)
        return np.where(gi, V["30233N1"], pcs)

    def lab_result(self):
        pop, b, V, rng = self.pop, self.b, self.b.V, self.rng
        labs = self.ev.labs
        sel = np.flatnonzero(labs["in_system"])
        p = labs["person"][sel]
        test = labs["test"][sel]
        val = labs["value"][sel]
        day = labs["day"][sel]
        # A BMP yields creatinine and eGFR; eGFR switches from MDRD to CKD-EPI 2021 in the window.
        bmp = np.flatnonzero(test == LAB_TESTS.index("bmp"))
        age = (day[bmp] - pop.birth[p[bmp]]) / 365.25
        egfr = val[bmp]
        creat = np.round(
            np.clip(
                140
                / np.maximum(egfr, 5)
                * (1 - 0.004 * (age - 50))
                * np.where(pop.female[p[bmp]], 0.8, 1.0),
                0.4,
                12,
            ),
            2,
        )
        p = np.r_[p, p[bmp]]
        day = np.r_[day, day[bmp]]
        code_key = np.r_[test, np.full(len(bmp), 9)]
        val = np.r_[val, creat]
        h = len(p)
        keys = ["a1c", "egfr", "uacr", "ldl", "fit"]
        loinc = np.array(
            [V[codes.LOINC[k][0]] for k in keys]
            + [V[codes.LOINC["egfr_mdrd"][0]]] * 4
            + [V[codes.LOINC["creatinine"][0]]]
        )
        desc = np.array(
            [V[codes.LOINC[k][1]] for k in keys]
            + [V[codes.LOINC["egfr_mdrd"][1]]] * 4
            + [V[codes.LOINC["creatinine"][1]]]
        )
        unit = np.array(
            [V[codes.LOINC[k][2]] for k in keys] + [V["mL/min/1.73m2"]] * 4 + [V["mg/dL"]]
        )
        old = (code_key == 1) & (day < self.win.start + 365) & (rng.random(h) < 0.6)
        code_key = np.where(old, 5, code_key)
        lo = np.select([code_key == 0, code_key == 9], [4.0, 0.6], np.nan)
        hi = np.select(
            [code_key == 0, code_key == 9, code_key == 2, code_key == 3],
            [5.6, 1.3, 30, 100],
            np.nan,
        )
        flag = np.where(
            val > np.nan_to_num(hi, nan=1e9),
            "H",
            np.where(val < np.nan_to_num(lo, nan=-1), "L", ""),
        )
        secs = rng.integers(7 * 3600, 17 * 3600, h)
        result = pl.Series(np.where(code_key == 9, np.round(val, 2), np.round(val, 1))).cast(
            pl.String
        )
        cols = {
            "lab_result_id": b.ids("LR", np.arange(h)),
            "person_id": self.pid_of(p),
            "patient_id": self.pid_of(p),
            "accession_number": b.ids("A", np.arange(h)),
            "source_component_type": ("s", "loinc"),
            "source_component_code": ("v", loinc[code_key]),
            "source_component_description": ("v", desc[code_key]),
            "normalized_component_type": ("s", "loinc"),
            "normalized_component_code": ("v", loinc[code_key]),
            "status": ("s", "final"),
            "result": result,
            "result_datetime": ("ts", day, secs + 3 * 3600),
            "collection_datetime": ("ts", day, secs),
            "source_units": ("v", unit[code_key]),
            "normalized_units": ("v", unit[code_key]),
            "source_reference_range_low": pl.Series(lo, nan_to_null=True).cast(pl.String),
            "source_reference_range_high": pl.Series(hi, nan_to_null=True).cast(pl.String),
            "source_abnormal_flag": ("v", _blank_null(b, flag)),
            "normalized_abnormal_flag": ("v", _blank_null(b, flag)),
            "specimen": ("v", np.where(code_key == 2, V["urine"], V["blood"])),
            "ordering_practitioner_id": ("v", self.world.pcp_npi[self.pcp_on(p, day)]),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "lab_result.csv"),
            "ingest_datetime": self.common_tail("lab_result", h)["ingest_datetime"],
        }
        # FIT results from screenings done in the system, a lab with a text result.
        df = b.conform("lab_result", cols, h)
        s = self.ev.screens
        fit = np.flatnonzero(s["in_system"] & (s["kind"] == 2))
        if len(fit):
            fp = s["person"][fit]
            k = len(fit)
            fcols = {
                "lab_result_id": b.ids("LF", np.arange(k)),
                "person_id": self.pid_of(fp),
                "patient_id": self.pid_of(fp),
                "source_component_type": ("s", "loinc"),
                "source_component_code": ("s", codes.LOINC["fit"][0]),
                "source_component_description": ("s", codes.LOINC["fit"][1]),
                "normalized_component_type": ("s", "loinc"),
                "normalized_component_code": ("s", codes.LOINC["fit"][0]),
                "status": ("s", "final"),
                "result": ("v", np.where(s["positive"][fit], V["positive"], V["negative"])),
                "result_datetime": ("ts", s["day"][fit], np.full(k, 14 * 3600)),
                "collection_datetime": ("ts", s["day"][fit], np.full(k, 9 * 3600)),
                "specimen": ("s", "stool"),
                "data_source": ("s", EHR_SOURCE),
                "file_name": ("s", "lab_result.csv"),
                "ingest_datetime": self.common_tail("lab_result", k)["ingest_datetime"],
            }
            df = pl.concat([df, b.conform("lab_result", fcols, k)])
        return df

    def observation(self):
        b, V = self.b, self.b.V
        vt = self.ev.vitals
        dep = self.ev.dep_screens
        nv, nd = len(vt["person"]), len(dep["person"])
        enc_v = self._enc_id_for_office(vt["visit"])
        enc_d = self._enc_id_for_office(dep["visit"])
        # Depression screens happen at EHR visits only.
        dk = enc_d >= 0
        vk = enc_v >= 0
        vp, vd, sbp, dbp, ev_ = (
            vt["person"][vk],
            vt["day"][vk],
            vt["sbp"][vk],
            vt["dbp"][vk],
            enc_v[vk],
        )
        dp, dd, sc, ed_ = dep["person"][dk], dep["day"][dk], dep["score"][dk], enc_d[dk]
        nv, nd = len(vp), len(dp)
        person = np.r_[vp, vp, dp]
        day = np.r_[vd, vd, dd]
        enc = np.r_[ev_, ev_, ed_]
        code = np.r_[
            np.full(nv, V[codes.LOINC["sbp"][0]]),
            np.full(nv, V[codes.LOINC["dbp"][0]]),
            np.full(nd, V[codes.LOINC["phq9"][0]]),
        ]
        desc = np.r_[
            np.full(nv, V[codes.LOINC["sbp"][1]]),
            np.full(nv, V[codes.LOINC["dbp"][1]]),
            np.full(nd, V[codes.LOINC["phq9"][1]]),
        ]
        units = np.r_[np.full(2 * nv, V["mm[Hg]"]), np.full(nd, V["{score}"])]
        otype = np.r_[np.full(2 * nv, V["vital-signs"]), np.full(nd, V["survey"])]
        result = pl.Series(np.r_[sbp, dbp, sc].astype(np.int64)).cast(pl.String)
        panel = np.r_[np.arange(nv), np.arange(nv), np.full(nd, -1)]
        h = len(person)
        panel_ids = b.ids("BP", np.maximum(panel, 0))
        null = np.flatnonzero(panel < 0)
        if len(null):
            panel_ids = panel_ids.scatter(null, None)
        cols = {
            "observation_id": b.ids("OB", np.arange(h)),
            "person_id": self.pid_of(person),
            "patient_id": self.pid_of(person),
            "encounter_id": b.ids("E", enc),
            "panel_id": panel_ids,
            "observation_date": ("d", day),
            "observation_type": ("v", otype),
            "source_code_type": ("s", "loinc"),
            "source_code": ("v", code),
            "source_description": ("v", desc),
            "normalized_code_type": ("s", "loinc"),
            "normalized_code": ("v", code),
            "result": result,
            "source_units": ("v", units),
            "normalized_units": ("v", units),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "observation.csv"),
            "ingest_datetime": self.common_tail("observation", h)["ingest_datetime"],
        }
        return b.conform("observation", cols, h)

    def medication(self):
        pop, b, V, rng = self.pop, self.b, self.b.V, self.rng
        reg = self.ev.regimens
        f = self.ev.fills
        first = np.full(len(reg["person"]), -1, dtype=np.int64)
        if len(f["reg"]):
            order = np.lexsort((f["day"], f["reg"]))
            r, d = f["reg"][order], f["day"][order]
            head = np.r_[True, r[1:] != r[:-1]]
            first[r[head]] = d[head]
        sel = np.flatnonzero((first >= 0) & pop.in_ehr[reg["person"]])
        p = reg["person"][sel]
        h = len(p)
        drug = reg["drug"][sel]
        presc = first[sel] - rng.integers(0, 8, h)
        ndc = V.many([d[1] for d in DRUG_LIST])[drug]
        name = V.many([d[2] for d in DRUG_LIST])[drug]
        cols = {
            "medication_id": b.ids("MD", np.arange(h)),
            "person_id": self.pid_of(p),
            "patient_id": self.pid_of(p),
            "prescribing_date": ("d", presc),
            "source_code_type": ("s", "ndc"),
            "source_code": ("v", ndc),
            "source_description": ("v", name),
            "ndc_code": ("v", ndc),
            "ndc_description": ("v", name),
            "route": (
                "v",
                np.where(
                    np.isin(drug, _inhaled()),
                    V["inhalation"],
                    np.where(np.isin(drug, _injected()), V["subcutaneous"], V["oral"]),
                ),
            ),
            "quantity": reg["qty"][sel],
            "days_supply": reg["ds"][sel].astype(np.int32),
            "practitioner_id": ("v", self.world.pcp_npi[self.pcp_on(p, presc)]),
            "data_source": ("s", EHR_SOURCE),
            "file_name": ("s", "medication.csv"),
            "ingest_datetime": self.common_tail("medication", h)["ingest_datetime"],
        }
        return b.conform("medication", cols, h)

    def provider_attribution(self):
        pop, b, V = self.pop, self.b, self.b.V
        att = pop.pcp >= 0
        rows_p, rows_m, rows_pay = [], [], []
        for s, e, pay in ((pop.s1, pop.e1, pop.payer), (pop.s2, pop.e2, pop.payer2)):
            ok = att & (s >= 0)
            person = np.flatnonzero(ok)
            m0 = _month_index(s[person])
            m1 = _month_index(e[person])
            cnt = np.maximum(m1 - m0 + 1, 0)
            rp = np.repeat(person, cnt)
            off = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            rows_p.append(rp)
            rows_m.append(np.repeat(m0, cnt) + off)
            rows_pay.append(pay[rp])
        person = np.concatenate(rows_p)
        month = np.concatenate(rows_m)
        payer = np.concatenate(rows_pay)
        order = np.lexsort((month, person))
        person, month, payer = person[order], month[order], payer[order]
        # The payer's attribution lags a switch of PCP by a month or two; the custom one does not.
        mday = _month_first_day(month)
        pcp_custom = self.pcp_on(person, mday)
        pcp_payer = self.pcp_on(person, mday - 45)
        h = len(person)
        ym = pl.Series((month // 12) * 100 + month % 12 + 1).cast(pl.String)
        prac_c = self.world.pcp_practice[pcp_custom]
        prac_p = self.world.pcp_practice[pcp_payer]
        cols = {
            "person_id": self.pid_of(person),
            "patient_id": self.pid_of(person),
            "member_id": self.pid_of(person),
            "year_month": ym,
            "payer": ("v", V.many(PAYER_NAME)[payer]),
            "plan": ("v", V.many(PLAN_NAME)[payer]),
            "data_source": ("s", CLAIMS_SOURCE),
            "payer_attributed_provider": ("v", self.world.pcp_npi[pcp_payer]),
            "payer_attributed_provider_practice": ("v", self.world.practice_id[prac_p]),
            "payer_attributed_provider_organization": ("s", "Riverside Health Partners"),
            "payer_attributed_provider_lob": ("v", V.many(PAYER_TYPES)[payer]),
            "custom_attributed_provider": ("v", self.world.pcp_npi[pcp_custom]),
            "custom_attributed_provider_practice": ("v", self.world.practice_id[prac_c]),
            "custom_attributed_provider_organization": ("s", "Riverside Health Partners"),
            "custom_attributed_provider_lob": ("v", V.many(PAYER_TYPES)[payer]),
        }
        return b.conform("provider_attribution", cols, h)

    def registry(self):
        """One row per person known to the care-management registry (the EHR population), plus one
        per programme enrolment. SDOH flags come from screening (null when not screened)."""
        pop, b, V, rng = self.pop, self.b, self.b.V, self.rng
        base = np.flatnonzero(pop.in_ehr)
        st = self.ev.stays
        first_dis = np.full(pop.n, -1, dtype=np.int64)
        if len(st["person"]):
            order = np.lexsort((st["disch"], st["person"]))
            sp, sd = st["person"][order], st["disch"][order]
            head = np.r_[True, sp[1:] != sp[:-1]]
            first_dis[sp[head]] = sd[head]
        dm_prog = (
            pop.in_ehr
            & pop.cond[:, CI["diabetes"]]
            & (self.ev.year_state["a1c_mu"] > 8.3)
            & (rng.random(pop.n) < 0.35)
        )
        toc = pop.in_ehr & pop.toc & (first_dis >= 0)
        cc = pop.complex_care
        progs = [
            (cc, "complex_care", self.win.start + rng.integers(-400, self.win.days - 30, pop.n), 0),
            (
                dm_prog,
                "diabetes_management",
                self.win.start + rng.integers(-200, self.win.days - 30, pop.n),
                0,
            ),
            (toc, "transitions_of_care", first_dis, 45),
        ]
        person = [base]
        prog = [np.full(len(base), -1)]
        enr = [np.full(len(base), NULL_DAY)]
        dis = [np.full(len(base), NULL_DAY)]
        in_prog = np.zeros(pop.n, bool)
        for mask, name, start, length in progs:
            pp = np.flatnonzero(mask)
            in_prog[pp] = True
            person.append(pp)
            prog.append(np.full(len(pp), V[name]))
            s = np.minimum(start[pp], self.win.end)
            enr.append(s)
            dd = np.where(
                length > 0,
                s + length,
                np.where(rng.random(len(pp)) < 0.3, s + rng.integers(60, 400, len(pp)), NULL_DAY),
            )
            dd = np.where((dd > self.win.end) | (dd < NULL_DAY + 1), NULL_DAY, dd)
            dis.append(dd)
        # People in a programme do not also get the programme-less row.
        keep_base = ~in_prog[base]
        person[0], prog[0], enr[0], dis[0] = (
            base[keep_base],
            prog[0][keep_base],
            enr[0][keep_base],
            dis[0][keep_base],
        )
        person = np.concatenate(person)
        prog = np.concatenate(prog)
        enr = np.concatenate(enr)
        dis = np.concatenate(dis)
        order = np.lexsort((enr, person))
        person, prog, enr, dis = person[order], prog[order], enr[order], dis[order]
        h = len(person)
        cm = np.where(
            prog >= 0, self.world.care_managers[person % len(self.world.care_managers)], -1
        )
        lang = _languages(rng, pop)
        contact_opts = np.array(["phone", "text", "mail", "email", "portal"])
        age = pop.age0
        cp = np.where(
            age >= 70,
            rng.choice(5, pop.n, p=[0.7, 0.1, 0.15, 0.03, 0.02]),
            rng.choice(5, pop.n, p=[0.45, 0.3, 0.08, 0.1, 0.07]),
        )
        outreach = (prog >= 0) | (rng.random(h) < 0.2)
        last_day = np.where(outreach, self.win.end - rng.integers(1, 180, h), NULL_DAY)
        last_day = np.where(
            outreach & (last_day < enr) & (prog >= 0), np.minimum(enr + 7, self.win.end), last_day
        )
        p_reach = np.clip(0.45 + 0.1 * pop.engage[person] - 0.15 * pop.sdoh[person, 0], 0.05, 0.9)
        u = rng.random(h)
        wrong = pop.sdoh[person, 0] & (rng.random(h) < 0.3)
        outcome = np.select(
            [wrong, u < p_reach, u < p_reach + 0.2, u < p_reach + 0.35, u < p_reach + 0.42],
            ["wrong_number", "reached", "left_voicemail", "no_answer", "scheduled"],
            "declined",
        )
        outcome = np.where(outreach, outcome, "")
        sdoh = pop.sdoh[person]
        screened = pop.sdoh_screened[person]
        cols = {
            "person_id": self.pid_of(person),
            "program": ("v", prog),
            "enrolled_date": ("d", enr),
            "disenrolled_date": ("d", dis),
            "care_manager_id": ("v", cm),
            "opted_out": pop.opted_out[person],
            "preferred_language": ("v", b.vi(lang[person])),
            "preferred_contact": ("v", b.vi(contact_opts[cp[person]])),
            "phone": ("v", _blank_null(b, self.phone[person])),
            "last_outreach_date": ("d", last_day),
            "last_outreach_outcome": ("v", _blank_null(b, outcome)),
            "housing_instability": _nullable_bool(sdoh[:, 0], screened),
            "food_insecurity": _nullable_bool(sdoh[:, 1], screened),
            "transportation_barrier": _nullable_bool(sdoh[:, 2], screened),
        }
        return b.conform("registry", cols, h)


def _nullable_bool(values, known):
    s = pl.Series(values.astype(bool))
    unknown = np.flatnonzero(~known)
    if len(unknown):
        s = s.scatter(unknown, None)
    return s


def _languages(rng, pop):
    n = pop.n
    lang = np.full(n, "english", dtype=object)
    u = rng.random(n)
    lang = np.where(pop.hispanic & (u < 0.45), "spanish", lang)
    asian = pop.race == RACES.index("asian")
    lang = np.where(asian & (u < 0.2), "chinese", lang)
    lang = np.where(asian & (u >= 0.2) & (u < 0.35), "vietnamese", lang)
    black = pop.race == RACES.index("black or african american")
    # Columbus has one of the largest Somali communities in the US.
    lang = np.where(black & (u < 0.05), "somali", lang)
    return lang.astype(str)


def _blank_null(b: Builder, arr) -> np.ndarray:
    arr = np.asarray(arr).astype(str)
    ids = b.vi(arr)
    return np.where(arr == "", -1, ids)


def _month_index(day) -> np.ndarray:
    d = np.asarray(day).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    # months since 0000-01 so that // 12 and % 12 give the calendar year and month
    return d + 1970 * 12


def _month_first_day(month_index: np.ndarray) -> np.ndarray:
    m = (month_index - 1970 * 12).astype("datetime64[M]")
    return m.astype("datetime64[D]").astype(np.int64)


def _unit_cost(name: str) -> float:
    # Rough per-unit prices (NADAC-like for generics, WAC-like for brands), for realistic amounts.
    for key, price in (
        ("sitagliptin", 18.0),
        ("empagliflozin", 19.0),
        ("insulin", 28.0),
        ("fluticasone", 320.0),
        ("tiotropium", 15.0),
        ("albuterol", 2.0),
        ("rosuvastatin", 0.15),
        ("donepezil", 0.2),
    ):
        if key in name:
            return price
    return 0.08


def _inhaled():
    return [
        i for i, d in enumerate(DRUG_LIST) if d[0] in ("inhaler_reliever", "inhaler_controller")
    ]


def _injected():
    return [i for i, d in enumerate(DRUG_LIST) if d[0] == "insulin"]


# ---------------------------------------------------------------------------------------------
# Medical claim lines


LINE_KEYS = {
    "claim": np.int64,
    "line": np.int32,
    "inst": bool,
    "person": np.int64,
    "start": np.int64,
    "end": np.int64,
    "lstart": np.int64,
    "lend": np.int64,
    "admit": np.int64,
    "disch": np.int64,
    "asrc": np.int32,
    "atype": np.int32,
    "disp": np.int32,
    "pos": np.int32,
    "bill": np.int32,
    "drg": np.int32,
    "rev": np.int32,
    "hcpcs": np.int32,
    "mod1": np.int32,
    "units": float,
    "rnpi": np.int32,
    "bnpi": np.int32,
    "fnpi": np.int32,
    "btin": np.int32,
    "allowed": float,
    "dx1": np.int32,
    "proc1": np.int32,
    "pdate1": np.int64,
    "poa": bool,
}
NULLS = {np.int64: NULL_DAY, np.int32: -1, bool: False, float: np.nan}


class MedicalLines:
    """Header arrays per claim expanded to lines; amounts priced per line at the end."""

    def __init__(self, ctx: _Ctx):
        self.ctx = ctx
        self.V = ctx.b.V
        self.parts: list[dict] = []
        self.next_claim = 0

    def claims(self, n):
        ids = np.arange(self.next_claim, self.next_claim + n)
        self.next_claim += n
        return ids

    def emit(self, header: dict, line_cols: dict, present: np.ndarray):
        """header: arrays of length n (one per claim); line_cols: (n, L) arrays; present: (n, L)."""
        cnt = present.sum(axis=1)
        part = {k: np.repeat(v, cnt) for k, v in header.items()}
        for k, v in line_cols.items():
            part[k] = v[present]
        part["line"] = (np.cumsum(present, axis=1)[present]).astype(np.int32)
        self.parts.append(part)

    def _fac(self, fac):
        w = self.ctx.world
        return w.facility_npi[fac], w.facility_tin[fac]

    def inpatient(self, st):
        V, ctx = self.V, self.ctx
        n = len(st["person"])
        if n == 0:
            return
        cls = st["cls"]
        surg = np.array([bool(CLASS_INFO[c][4]) for c in CLASSES])[cls]
        los = st["disch"] - st["admit"]
        claim = self.claims(n)
        npi, tin = self._fac(st["fac"])
        weight = np.array([CLASS_INFO[c][3] for c in CLASSES])[cls] * np.choose(
            st["sev"], [1.6, 1.0, 0.75]
        )
        total = weight * 6500.0
        dx1 = ctx._principal_dx(cls, st["person"])
        pcs = ctx._stay_pcs(cls, st["person"])
        header = dict(
            claim=claim,
            inst=np.ones(n, bool),
            person=st["person"],
            start=st["admit"],
            end=st["disch"],
            admit=st["admit"],
            disch=st["disch"],
            asrc=self.V.many(["1", "2", "4"])[
                np.searchsorted(np.array(["1", "2", "4"]), st["asrc"])
            ],
            atype=self.V.many(["1", "2", "3"])[
                np.searchsorted(np.array(["1", "2", "3"]), st["atype"])
            ],
            disp=ctx.b.vi(st["disp"]),
            bill=np.full(n, V["111"]),
            drg=ctx._drg(cls, st["sev"]),
            bnpi=npi,
            fnpi=npi,
            btin=tin,
            dx1=dx1,
            proc1=pcs,
            pdate1=np.where(pcs >= 0, st["admit"] + (surg & (los > 1)), NULL_DAY),
            poa=np.ones(n, bool),
        )
        L = 5
        rev = np.tile(V.many(["0120", "0250", "0300", "0450", "0360"]), (n, 1))
        share = np.tile(np.array([0.55, 0.12, 0.10, 0.08, 0.25]), (n, 1))
        present = np.ones((n, L), bool)
        present[:, 3] = st["via_ed"]
        present[:, 4] = surg
        share = share * present
        share = share / share.sum(axis=1, keepdims=True)
        units = np.tile(np.array([1.0, 1, 1, 1, 1]), (n, 1))
        units[:, 0] = np.maximum(los, 1)
        hcpcs = np.full((n, L), -1)
        hcpcs[:, 3] = V["99284"]
        self.emit(
            header,
            dict(
                rev=rev,
                units=units,
                allowed=share * total[:, None],
                hcpcs=hcpcs,
                lstart=np.tile(st["admit"][:, None], (1, L)),
                lend=np.tile(st["disch"][:, None], (1, L)),
            ),
            present,
        )
        # Professional: hospitalist (initial, subsequent days, discharge), ED physician, surgeon.
        w = ctx.world
        hosp = w.hospitalist_npi[st["person"] % len(w.hospitalist_npi)]
        claim = self.claims(n)
        header_p = dict(
            claim=claim,
            inst=np.zeros(n, bool),
            person=st["person"],
            start=st["admit"],
            end=st["disch"],
            pos=np.full(n, V["21"]),
            rnpi=hosp,
            bnpi=hosp,
            btin=np.full(n, V["311234567"]),
            dx1=dx1,
        )
        init = V.many(codes.IP_INITIAL)[np.minimum(2 - st["sev"], 2)]
        sub = V.many(codes.IP_SUBSEQUENT)[np.minimum(2 - st["sev"], 2) % 3]
        dis = V.many(codes.IP_DISCHARGE)[(los > 4).astype(int)]
        present = np.stack([np.ones(n, bool), los > 1, los >= 1], axis=1)
        hcpcs = np.stack([init, sub, dis], axis=1)
        lstart = np.stack([st["admit"], st["admit"] + 1, st["disch"]], axis=1)
        lend = np.stack([st["admit"], st["disch"] - 1, st["disch"]], axis=1)
        units = np.stack([np.ones(n), np.maximum(los - 1, 1), np.ones(n)], axis=1).astype(float)
        price = np.stack(
            [np.full(n, 190.0), 80.0 * np.maximum(los - 1, 1), np.full(n, 75.0)], axis=1
        )
        self.emit(
            header_p,
            dict(hcpcs=hcpcs, lstart=lstart, lend=lend, units=units, allowed=price),
            present,
        )
        edi = np.flatnonzero(st["via_ed"])
        if len(edi):
            self._single_prof(
                st["person"][edi],
                st["admit"][edi],
                V["23"],
                V["99285"],
                w.ed_npi[st["person"][edi] % len(w.ed_npi)],
                dx1[edi],
                190.0,
            )
        si = np.flatnonzero(surg)
        if len(si):
            cpt = np.array([V[codes.SURGERY_CPT.get(c, "99222")] for c in CLASSES])[cls[si]]
            self._single_prof(
                st["person"][si],
                st["admit"][si] + (los[si] > 1),
                V["21"],
                cpt,
                w.surgeon_npi[st["person"][si] % len(w.surgeon_npi)],
                dx1[si],
                1100.0,
            )

    def _single_prof(self, person, day, pos, hcpcs, npi, dx1, price, mod1=None, units=None):
        n = len(person)
        V = self.V
        header = dict(
            claim=self.claims(n),
            inst=np.zeros(n, bool),
            person=person,
            start=day,
            end=day,
            pos=np.broadcast_to(pos, (n,)).copy(),
            rnpi=npi,
            bnpi=npi,
            btin=np.full(n, V["314455667"]),
            dx1=dx1,
        )
        line = dict(
            hcpcs=np.broadcast_to(hcpcs, (n,)).reshape(n, 1).copy(),
            lstart=day.reshape(n, 1),
            lend=day.reshape(n, 1),
            units=(np.ones((n, 1)) if units is None else units.reshape(n, 1)),
            allowed=np.broadcast_to(price, (n,)).reshape(n, 1).astype(float),
        )
        if mod1 is not None:
            line["mod1"] = mod1.reshape(n, 1)
        self.emit(header, line, np.ones((n, 1), bool))

    def ed(self, e):
        V, ctx, w = self.V, self.ctx, self.ctx.world
        n = len(e["person"])
        if n == 0:
            return
        rng = ctx.rng
        npi, tin = self._fac(e["fac"])
        dx1 = V.many(codes.ED_DIAGNOSES)[e["dx"]]
        level = V.many(codes.ED_EM)[e["level"]]
        header = dict(
            claim=self.claims(n),
            inst=np.ones(n, bool),
            person=e["person"],
            start=e["day"],
            end=e["day"],
            bill=np.full(n, V["131"]),
            bnpi=npi,
            fnpi=npi,
            btin=tin,
            dx1=dx1,
            disp=np.full(n, V["01"]),
        )
        present = np.stack(
            [np.ones(n, bool), rng.random(n) < 0.5, rng.random(n) < 0.4, rng.random(n) < 0.4],
            axis=1,
        )
        rev = np.tile(V.many(["0450", "0300", "0320", "0250"]), (n, 1))
        hcpcs = np.stack(
            [level, np.full(n, V["80053"]), np.full(n, V["71046"]), np.full(n, -1)], axis=1
        )
        fee = np.array([80.0, 150, 270, 430, 650])[e["level"]]
        allowed = np.stack([fee, np.full(n, 60.0), np.full(n, 120.0), np.full(n, 40.0)], axis=1)
        day = e["day"][:, None]
        self.emit(
            header,
            dict(
                rev=rev,
                hcpcs=hcpcs,
                allowed=allowed,
                units=np.ones((n, 4)),
                lstart=np.tile(day, (1, 4)),
                lend=np.tile(day, (1, 4)),
            ),
            present,
        )
        prof_fee = np.array([25.0, 45, 75, 130, 190])[e["level"]]
        self._single_prof(
            e["person"],
            e["day"],
            V["23"],
            level,
            w.ed_npi[e["person"] % len(w.ed_npi)],
            dx1,
            prof_fee,
        )

    def observation(self, o):
        V, ctx, w = self.V, self.ctx, self.ctx.world
        n = len(o["person"])
        if n == 0:
            return
        npi, tin = self._fac(o["fac"])
        dx1 = ctx._principal_dx(o["cls"], o["person"])
        header = dict(
            claim=self.claims(n),
            inst=np.ones(n, bool),
            person=o["person"],
            start=o["day"],
            end=o["end"],
            bill=np.full(n, V["131"]),
            bnpi=npi,
            fnpi=npi,
            btin=tin,
            dx1=dx1,
            disp=np.full(n, V["01"]),
        )
        present = np.stack([np.ones(n, bool), o["via_ed"], np.ones(n, bool)], axis=1)
        rev = np.tile(V.many(["0762", "0450", "0300"]), (n, 1))
        hcpcs = np.stack(
            [np.full(n, V["G0378"]), np.full(n, V["99284"]), np.full(n, V["80053"])], axis=1
        )
        units = np.stack([o["hours"].astype(float), np.ones(n), np.ones(n)], axis=1)
        allowed = np.stack([np.full(n, 2300.0), np.full(n, 430.0), np.full(n, 60.0)], axis=1)
        lstart = np.tile(o["day"][:, None], (1, 3))
        lend = np.stack([o["end"], o["day"], o["day"]], axis=1)
        self.emit(
            header,
            dict(rev=rev, hcpcs=hcpcs, units=units, allowed=allowed, lstart=lstart, lend=lend),
            present,
        )
        hosp = w.hospitalist_npi[o["person"] % len(w.hospitalist_npi)]
        header_p = dict(
            claim=self.claims(n),
            inst=np.zeros(n, bool),
            person=o["person"],
            start=o["day"],
            end=o["end"],
            pos=np.full(n, V["22"]),
            rnpi=hosp,
            bnpi=hosp,
            btin=np.full(n, V["311234567"]),
            dx1=dx1,
        )
        present = np.ones((n, 2), bool)
        hcpcs = np.stack([np.full(n, V["99222"]), np.full(n, V["99238"])], axis=1)
        self.emit(
            header_p,
            dict(
                hcpcs=hcpcs,
                units=np.ones((n, 2)),
                allowed=np.tile([140.0, 75.0], (n, 1)),
                lstart=np.stack([o["day"], o["end"]], 1),
                lend=np.stack([o["day"], o["end"]], 1),
            ),
            present,
        )

    def office(self, v):
        V, ctx, w, pop = self.V, self.ctx, self.ctx.world, self.ctx.pop
        n = len(v["person"])
        if n == 0:
            return
        rng = ctx.rng
        p = v["person"]
        day = v["day"]
        pcp = ctx.pcp_on(p, day)
        npi = w.pcp_npi[pcp]
        tin = w.practice_tin[w.pcp_practice[pcp]]
        dx1 = ctx.office_dx
        age = (day - pop.birth[p]) / 365.25
        payer = payer_at(pop, p, day)
        em = V.many(codes.OFFICE_EM)[rng.integers(0, len(codes.OFFICE_EM), n)]
        prev = np.where(
            payer == MEDICARE,
            np.where(rng.random(n) < 0.15, V["G0438"], V["G0439"]),
            V.many(codes.PREVENTIVE_ADULT)[np.clip((age // 20).astype(int) - 1, 0, 2)],
        )
        tcm = np.where(rng.random(n) < 0.5, V["99496"], V["99495"])
        code = np.select([v["kind"] == 2, v["kind"] == 3], [prev, tcm], em)
        fee = np.select(
            [v["kind"] == 2, v["kind"] == 3],
            [np.full(n, 150.0), np.full(n, 240.0)],
            np.full(n, 115.0),
        )
        pos = np.where(v["tele"], np.where(rng.random(n) < 0.7, V["10"], V["02"]), V["11"])
        header = dict(
            claim=self.claims(n),
            inst=np.zeros(n, bool),
            person=p,
            start=day,
            end=day,
            pos=pos,
            rnpi=npi,
            bnpi=npi,
            btin=tin,
            dx1=dx1,
        )
        # CPT II result codes ride on some visits (CMS122/CMS165 accept them from claims).
        ys = ctx.ev.year_state
        y = np.clip((day - ctx.win.start) // 365, 0, ys["a1c"].shape[1] - 1)
        dm = pop.cond[p, CI["diabetes"]]
        htn = pop.cond[p, CI["hypertension"]]
        a1c = ys["a1c"][p, y]
        a1c_code = V.many([c[0] for c in codes.CPT2_A1C])[
            np.searchsorted([7.0, 8.0, 9.0001], a1c, side="right")
        ]
        sbp = ys["sbp"][p, y] + rng.normal(0, 7, n)
        sbp_code = V.many([c[0] for c in codes.CPT2_SBP])[
            np.searchsorted([130, 140], sbp, side="right")
        ]
        dbp = 78 + 0.35 * (sbp - 130) + rng.normal(0, 6, n)
        dbp_code = V.many([c[0] for c in codes.CPT2_DBP])[
            np.searchsorted([80, 90], dbp, side="right")
        ]
        report = rng.random(n) < 0.35
        dep = np.zeros(n, bool)
        dep[ctx.ev.dep_screens["visit"]] = True
        present = np.stack(
            [
                np.ones(n, bool),
                dm & report,
                htn & report & ~v["tele"],
                htn & report & ~v["tele"],
                dep & (payer == MEDICARE),
            ],
            axis=1,
        )
        hcpcs = np.stack([code, a1c_code, sbp_code, dbp_code, np.full(n, V["G0444"])], axis=1)
        allowed = np.stack([fee, np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, 18.0)], axis=1)
        mod = np.full((n, 5), -1)
        mod[:, 0] = np.where(v["tele"], V["95"], -1)
        d = day[:, None]
        self.emit(
            header,
            dict(
                hcpcs=hcpcs,
                allowed=allowed,
                mod1=mod,
                units=np.ones((n, 5)),
                lstart=np.tile(d, (1, 5)),
                lend=np.tile(d, (1, 5)),
            ),
            present,
        )

    def labs(self, labs):
        V, ctx, w = self.V, self.ctx, self.ctx.world
        n = len(labs["person"])
        if n == 0:
            return
        p = labs["person"]
        code = V.many([codes.LAB_CPT[t] for t in ("a1c", "bmp", "uacr", "lipid")] + ["82274"])[
            labs["test"]
        ]
        price = np.array([13.0, 9.0, 8.0, 13.0, 17.0])[labs["test"]]
        external = ~labs["in_system"]
        lab_npi = w.facility_npi[np.full(n, W.LAB)]
        pcp_npi = w.pcp_npi[ctx.pcp_on(p, labs["day"])]
        npi = np.where(external, lab_npi, pcp_npi)
        pos = np.where(external, V["81"], V["11"])
        dx1 = np.where(ctx.pdx[p, 0] >= 0, ctx.pdx[p, 0], V["Z0000"])
        # A uACR is two lines, urine albumin (82043) and urine creatinine (82570), on one claim.
        uacr = labs["test"] == LAB_TESTS.index("uacr")
        day = labs["day"]
        header = dict(
            claim=self.claims(n),
            inst=np.zeros(n, bool),
            person=p,
            start=day,
            end=day,
            pos=pos,
            rnpi=npi,
            bnpi=npi,
            btin=np.full(n, V["314455667"]),
            dx1=dx1,
        )
        line = dict(
            hcpcs=np.stack([code, np.full(n, V[codes.LAB_CPT["urine_creatinine"]])], axis=1),
            lstart=np.tile(day[:, None], (1, 2)),
            lend=np.tile(day[:, None], (1, 2)),
            units=np.ones((n, 2)),
            allowed=np.stack([price, np.full(n, 7.0)], axis=1),
        )
        self.emit(header, line, np.stack([np.ones(n, bool), uacr], axis=1))

    def screens(self, s):
        V, ctx, w = self.V, self.ctx, self.ctx.world
        n = len(s["person"])
        if n == 0:
            return
        rng = ctx.rng
        k = s["kind"]
        p = s["person"]
        code = np.select(
            [k == 0, k == 1, k == 2],
            [
                np.full(n, V["77067"]),
                V.many(codes.COLONOSCOPY)[rng.integers(0, 3, n)],
                V.many(codes.FIT)[rng.integers(0, 2, n)],
            ],
            V["81528"],
        )
        pos = np.select([k == 0, k == 1], [V["22"], V["24"]], V["81"])
        npi = np.select(
            [k == 0, k == 1],
            [w.radiologist_npi[p % len(w.radiologist_npi)], w.gi_npi[p % len(w.gi_npi)]],
            w.facility_npi[np.full(n, W.LAB)],
        )
        dx1 = np.where(k == 0, V["Z1231"], V["Z1211"])
        price = np.select([k == 0, k == 1, k == 2], [135.0, 420.0, 17.0], 500.0)
        self._single_prof(p, s["day"], pos, code, npi, dx1, price)

    def post_acute(self, snf, hh, hospice):
        V, ctx = self.V, self.ctx
        for kind, ev in (("snf", snf), ("hh", hh), ("hospice", hospice)):
            n = len(ev["person"])
            if n == 0:
                continue
            npi, tin = self._fac(ev["fac"])
            p = ev["person"]
            los = np.maximum(ev["end"] - ev["start"], 1)
            dx1 = np.where(ctx.pdx[p, 0] >= 0, ctx.pdx[p, 0], V["Z9181"])
            if kind == "snf":
                bill, revs, price = "211", ["0022", "0120", "0420"], [0.0, 520.0, 90.0]
                units = np.stack(
                    [np.ones(n), los.astype(float), np.maximum(los // 2, 1).astype(float)], 1
                )
                disp = np.where(
                    ev["died"], V["20"], np.where(ctx.rng.random(n) < 0.5, V["06"], V["01"])
                )
            elif kind == "hh":
                bill, revs, price = "329", ["0023", "0551", "0421"], [0.0, 160.0, 140.0]
                units = np.stack(
                    [
                        np.ones(n),
                        ev["visits"].astype(float),
                        np.maximum(ev["visits"] // 2, 1).astype(float),
                    ],
                    1,
                )
                disp = np.full(n, V["01"])
            else:
                bill, revs, price = "811", ["0651"], [210.0]
                units = los.astype(float)[:, None]
                disp = np.full(n, V["40"])
            L = len(revs)
            header = dict(
                claim=self.claims(n),
                inst=np.ones(n, bool),
                person=p,
                start=ev["start"],
                end=ev["end"],
                admit=ev["start"] if kind != "hh" else np.full(n, NULL_DAY),
                disch=ev["end"] if kind != "hh" else np.full(n, NULL_DAY),
                asrc=np.full(n, V["4"]) if kind == "snf" else np.full(n, -1),
                bill=np.full(n, V[bill]),
                bnpi=npi,
                fnpi=npi,
                btin=tin,
                dx1=dx1,
                disp=disp,
            )
            hcpcs = np.full((n, L), -1)
            if kind == "hh":
                hcpcs[:, 1] = V["G0299"]
                hcpcs[:, 2] = V["G0151"]
            allowed = units * np.array(price)[None, :]
            if kind == "hh":
                allowed[:, 0] = 1900.0
            if kind == "snf":
                allowed[:, 0] = 0.0
            self.emit(
                header,
                dict(
                    rev=np.tile(V.many(revs), (n, 1)),
                    hcpcs=hcpcs,
                    units=units,
                    allowed=allowed,
                    lstart=np.tile(ev["start"][:, None], (1, L)),
                    lend=np.tile(ev["end"][:, None], (1, L)),
                ),
                np.ones((n, L), bool),
            )

    # ---- assemble ----
    def _concat(self):
        total = sum(len(p["claim"]) for p in self.parts)
        out = {}
        for k, t in LINE_KEYS.items():
            arrs = []
            for p in self.parts:
                m = len(p["claim"])
                arrs.append(np.asarray(p[k]).astype(t) if k in p else np.full(m, NULLS[t], dtype=t))
            out[k] = np.concatenate(arrs) if arrs else np.zeros(0, t)
        assert len(out["claim"]) == total
        return out

    def _adjust(self, L):
        """Claim versions: replacements (bill type xx7, claim id + '-A1'), erroneous duplicates
        voided by a reversal (xx8, '-V1', negated amounts), and professional reversals re-issued
        ('-V1' negated then '-A1'). The final version of a claim is its latest '-A' not voided."""
        rng = self.ctx.rng
        V = self.V
        n_claims = self.next_claim
        u = rng.random(n_claims)
        inst_claim = np.zeros(n_claims, bool)
        inst_claim[L["claim"][L["inst"]]] = True
        replace = inst_claim & (u < 0.03)
        dup_void = inst_claim & (u >= 0.03) & (u < 0.04)
        prof_rev = ~inst_claim & (u < 0.015)
        L["version"] = np.zeros(len(L["claim"]), np.int8)
        L["adj"] = np.ones(len(L["claim"]))
        L["paid_shift"] = np.zeros(len(L["claim"]), np.int64)
        parts = [L]
        bill_vals = np.array([*V.values, ""], dtype=object)

        def with_freq(bill_ids, freq):
            uniq = np.unique(bill_ids[bill_ids >= 0])
            m = {int(b): V[str(bill_vals[b])[:2] + freq] for b in uniq}
            out = bill_ids.copy()
            for b, nb in m.items():
                out[bill_ids == b] = nb
            return out

        def copy(mask_claim, version, factor, shift, new_ids=False, freq=None):
            sel = mask_claim[L["claim"]]
            c = {k: v[sel].copy() for k, v in L.items()}
            if new_ids:
                uniq = np.unique(c["claim"])
                mapping = np.full(n_claims, -1, dtype=np.int64)
                mapping[uniq] = np.arange(self.next_claim, self.next_claim + len(uniq))
                self.next_claim += len(uniq)
                c["claim"] = mapping[c["claim"]]
            c["version"][:] = version
            c["adj"] = (
                np.broadcast_to(factor, c["adj"].shape).copy()
                if np.isscalar(factor)
                else factor[c["claim"]]
            )
            c["paid_shift"][:] = shift
            if freq is not None:
                c["bill"] = with_freq(c["bill"], freq)
            return c

        parts.append(copy(replace, 1, rng.uniform(0.85, 1.1, n_claims), 35, freq="7"))
        dup = copy(dup_void, 0, 1.0, 0, new_ids=True)
        parts.append(dup)
        void = {k: v.copy() for k, v in dup.items()}
        void["version"][:] = 2
        void["adj"][:] = -1.0
        void["paid_shift"][:] = 21
        void["bill"] = with_freq(void["bill"], "8")
        parts.append(void)
        parts.append(copy(prof_rev, 2, -1.0, 20))
        parts.append(copy(prof_rev, 1, 0.9, 40))
        return {k: np.concatenate([p[k] for p in parts]) for k in L}

    def frame(self) -> pl.DataFrame:
        ctx, V, b = self.ctx, self.V, self.ctx.b
        rng = ctx.rng
        L = self._concat()
        L = self._adjust(L)
        # Rows ordered by person, service date, claim and line (integer sort: cheap).
        order = np.lexsort((L["line"], L["version"], L["claim"], L["start"], L["person"]))
        L = {k: v[order] for k, v in L.items()}
        h = len(L["claim"])
        p = L["person"]
        payer_name, plan_name, pt = ctx.payer_cols(p, L["start"])
        # Prices: Medicare-level base x payer factor (commercial ~1.9x hospital / ~1.3x professional,
        # RAND hospital price study round 5; Medicaid ~0.75x), with claim-level noise.
        factor = np.where(
            pt == MEDICARE, 1.0, np.where(pt == MEDICAID, 0.75, np.where(L["inst"], 1.9, 1.3))
        )
        base = L["allowed"] * factor * rng.lognormal(0, 0.12, h)
        denied = ~L["inst"] & (rng.random(h) < 0.02) & (L["version"] == 0)
        allowed = np.where(denied, 0.0, np.round(base * np.abs(L["adj"]), 2))
        coins_rate = np.select(
            [pt == MEDICARE, pt == MEDICAID], [np.where(L["inst"], 0.0, 0.2), 0.0], 0.15
        )
        coins = np.round(allowed * coins_rate, 2)
        first_line = L["line"] == 1
        deduct = np.where(
            L["inst"] & first_line & (L["bill"] == V["111"]) & (pt != MEDICAID),
            np.minimum(allowed, 1632.0),
            0.0,
        )
        copay = np.where(
            ~L["inst"] & first_line & (pt == COMMERCIAL), np.minimum(allowed, 30.0), 0.0
        )
        paid = np.maximum(allowed - coins - deduct - copay, 0)
        markup = np.where(L["inst"], rng.uniform(2.2, 3.8, h), rng.uniform(1.4, 2.2, h))
        charge = np.round(np.where(denied, base, allowed) * markup, 2)
        sign = np.sign(L["adj"])
        paid_day = np.minimum(L["end"] + 14 + rng.integers(0, 30, h) + L["paid_shift"], ctx.win.end)
        paid_day = np.maximum(paid_day, L["end"])
        paid_day = np.where(paid_day > ctx.win.end, ctx.win.end, paid_day)
        # Secondary diagnoses: the person's chronic conditions, skipping a repeat of the principal.
        sec = ctx.pdx[p]
        sec = np.where(sec == L["dx1"][:, None], -1, sec)
        sec = np.where(
            ((sec == -1) & ctx.pop.esrd[p][:, None])[:, :1].repeat(4, 1) & (np.arange(4) == 3),
            ctx.esrd_dx,
            sec,
        )
        suffix = np.array([-1, V["-A1"], V["-V1"]])[L["version"]]
        claim_ids = b.ids("M", L["claim"], suffix)
        claim_type = np.where(L["inst"], V["institutional"], V["professional"])
        poa = np.where(L["poa"], V["Y"], -1)
        cols = {
            "claim_id": claim_ids,
            "claim_line_number": L["line"],
            "claim_type": ("v", claim_type),
            "person_id": ctx.pid_of(p),
            "member_id": ctx.pid_of(p),
            "payer": ("v", payer_name),
            "plan": ("v", plan_name),
            "claim_start_date": ("d", L["start"]),
            "claim_end_date": ("d", L["end"]),
            "claim_line_start_date": (
                "d",
                np.where(L["lstart"] > NULL_DAY, L["lstart"], L["start"]),
            ),
            "claim_line_end_date": ("d", np.where(L["lend"] > NULL_DAY, L["lend"], L["end"])),
            "admission_date": ("d", L["admit"]),
            "discharge_date": ("d", L["disch"]),
            "admit_source_code": ("v", L["asrc"]),
            "admit_type_code": ("v", L["atype"]),
            "discharge_disposition_code": ("v", L["disp"]),
            "place_of_service_code": ("v", L["pos"]),
            "bill_type_code": ("v", L["bill"]),
            "drg_code_type": ("v", np.where(L["drg"] >= 0, V["ms-drg"], -1)),
            "drg_code": ("v", L["drg"]),
            "revenue_center_code": ("v", L["rev"]),
            "service_unit_quantity": L["units"] * sign,
            "hcpcs_code": ("v", L["hcpcs"]),
            "hcpcs_modifier_1": ("v", L["mod1"]),
            "rendering_npi": ("v", L["rnpi"]),
            "billing_npi": ("v", L["bnpi"]),
            "billing_tin": ("v", L["btin"]),
            "facility_npi": ("v", L["fnpi"]),
            "paid_date": ("d", paid_day),
            "paid_amount": paid * sign,
            "allowed_amount": allowed * sign,
            "charge_amount": charge * sign,
            "coinsurance_amount": coins * sign,
            "copayment_amount": copay * sign,
            "deductible_amount": deduct * sign,
            "total_cost_amount": allowed * sign,
            "diagnosis_code_type": ("s", "icd-10-cm"),
            "diagnosis_code_1": ("v", L["dx1"]),
            "diagnosis_code_2": ("v", sec[:, 0]),
            "diagnosis_code_3": ("v", sec[:, 1]),
            "diagnosis_code_4": ("v", sec[:, 2]),
            "diagnosis_code_5": ("v", sec[:, 3]),
            "diagnosis_poa_1": ("v", poa),
            "diagnosis_poa_2": ("v", np.where(sec[:, 0] >= 0, poa, -1)),
            "diagnosis_poa_3": ("v", np.where(sec[:, 1] >= 0, poa, -1)),
            "procedure_code_type": ("v", np.where(L["proc1"] >= 0, V["icd-10-pcs"], -1)),
            "procedure_code_1": ("v", L["proc1"]),
            "procedure_date_1": ("d", L["pdate1"]),
            "in_network_flag": ~np.isin(L["fnpi"], ctx.world.facility_npi[[3, 4]]),
            "data_source": ("s", CLAIMS_SOURCE),
            **ctx.common_tail("medical_claim", h),
        }
        return b.conform("medical_claim", cols, h)
