"""Crude population rates of a generated extract, for checking it against docs/generator.md.

These are deliberately simple DuckDB queries of our own (not the measure or readmission logic of
the pipeline): enough to say whether the generator's world has realistic levels. ``TARGETS`` holds
the documented ranges; tests/test_generator.py asserts a 20k-patient run lands inside them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

# name: (low, high, source). Ranges are the public figure widened by the sampling error of a
# 20,000-person run (a few hundred commercial index stays per year gives about +/-1 point).
TARGETS: dict[str, tuple[float, float, str]] = {
    "diabetes_18_44": (2.0, 7.0, "CDC NDSR 2021: diagnosed 3.0% (18-44)"),
    "diabetes_45_64": (11.0, 20.0, "CDC NDSR 2021: diagnosed 14.5% (45-64)"),
    "diabetes_65_plus": (22.0, 32.0, "CDC NDSR 2021: total 29.2%, diagnosed ~24% (65+)"),
    "diabetes_adult_standardised": (9.0, 14.0, "CDC: ~11% of adults have diagnosed diabetes"),
    "hypertension_18_44": (12.0, 32.0, "NHANES 2017-2020: 22% (18-39)"),
    "hypertension_45_64": (40.0, 62.0, "NHANES 2017-2020: 55% (40-59)"),
    "hypertension_65_plus": (63.0, 80.0, "NHANES 2017-2020: 75% (60+)"),
    "hypertension_adult_standardised": (38.0, 52.0, "CDC: ~45% of adults (2017 ACC/AHA)"),
    "heart_failure_65_plus": (7.0, 16.0, "CMS CCW: ~12-14% of Medicare FFS"),
    "copd_65_plus": (7.0, 15.0, "CMS CCW: ~11% of Medicare FFS"),
    "depression_adult": (8.0, 20.0, "CMS CCW / NSDUH: 8-18% diagnosed"),
    "ed_per_1000_commercial": (120.0, 210.0, "HEDIS EDU MY2022 commercial HMO 156.9"),
    "ed_per_1000_medicare": (270.0, 420.0, "HEDIS EDU MY2022 Medicare HMO 326.4"),
    "ed_per_1000_medicaid": (550.0, 850.0, "Medicaid ED use ~600-800 per 1,000 (MACPAC)"),
    "admits_per_1000_medicare": (190.0, 310.0, "CMS/MedPAC: ~250 per 1,000 FFS beneficiaries"),
    "admits_per_1000_commercial": (30.0, 75.0, "HCCI/HCUP: ~50-60 per 1,000 incl. maternity"),
    "readmit_pct_medicare": (15.0, 18.0, "HCUP SB #248: Medicare 17.1% all-cause (2016)"),
    # HCUP's private 8.6% (SB #248, 2016) includes maternal stays (readmitted ~3.6%), which the
    # generator does not simulate; private non-maternal adults readmit at 10-12% (SB #115).
    "readmit_pct_commercial": (
        8.5,
        12.5,
        "HCUP SB #115 (2008): private non-maternal adults 10.1% (18-44), 11.9% (45-64) all-cause",
    ),
    "readmit_pct_medicaid": (11.0, 17.0, "HCUP SB #248: Medicaid ~14% all-cause"),
    "a1c_poor_or_missing_pct": (15.0, 35.0, "CMS122 / HEDIS GSD >9%: national ~15-35%"),
    "bp_controlled_pct": (55.0, 70.0, "CMS165 / HEDIS CBP: ~55-70%"),
    "breast_screening_pct": (65.0, 75.0, "CMS125 / HEDIS BCS-E: ~65-75%"),
    "colorectal_screening_pct": (55.0, 75.0, "CMS130 / HEDIS COL-E: ~55-75%"),
    "statin_pdc80_medicare_pct": (75.0, 85.0, "PQA PDC statins, Part D ~80-85% adherent"),
    "depression_screening_pct": (35.0, 70.0, "CMS2 performance ~40-70% among reporters"),
}

ICD_GROUPS = {
    "diabetes": ("E10", "E11"),
    "hypertension": ("I10", "I11", "I12", "I13"),
    "heart_failure": ("I50",),
    "copd": ("J44",),
    "depression": ("F32", "F33", "F34"),
}
SNOMED_GROUPS = {
    "diabetes": "44054006",
    "hypertension": "59621000",
    "heart_failure": "84114007",
    "copd": "13645005",
    "depression": "35489007",
}
# US adult age distribution (ACS 2022, approximate) for age-standardised adult prevalence.
ADULT_WEIGHTS = {"18_44": 0.46, "45_64": 0.32, "65_plus": 0.22}


def _read(con: duckdb.DuckDBPyConnection, folder: Path, table: str) -> None:
    csv = folder / f"{table}.csv"
    if csv.exists():
        con.execute(
            f"create or replace view {table} as select * from read_csv('{csv}', header=true, "
            "all_varchar=false, sample_size=-1)"
        )
    else:
        con.execute(
            f"create or replace view {table} as select * from read_parquet('{folder / table}.parquet')"
        )


def measure(folder: Path, year: int | None = None) -> dict[str, float]:
    """Crude rates over calendar year ``year`` (default: the last full year in the extract)."""
    folder = Path(folder)
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    for t in (
        "eligibility",
        "medical_claim",
        "pharmacy_claim",
        "condition",
        "lab_result",
        "observation",
        "procedure",
    ):
        _read(con, folder, t)
    as_of = con.execute("select max(enrollment_end_date) from eligibility").fetchone()[0]
    if year is None:
        year = as_of.year - 1 if as_of.month < 12 else as_of.year
    mp_start, mp_end = date(year, 1, 1), date(year, 12, 31)
    con.execute(f"set variable mp_start = date '{mp_start}'")
    con.execute(f"set variable mp_end = date '{mp_end}'")
    out: dict[str, float] = {}

    con.execute(
        """
        create temp table claims_final as
        -- final claim versions: drop voided claims and their voids, keep the latest replacement
        with ids as (
            select *, regexp_replace(claim_id, '-[AV][0-9]+$', '') as base_id,
                   case when claim_id like '%-V%' then 2 when claim_id like '%-A%' then 1 else 0 end
                   as version
            from medical_claim
        ), voided as (select distinct base_id from ids where version = 2),
        latest as (select base_id, max(version) as v from ids where version < 2 group by 1)
        select ids.* from ids join latest using (base_id)
        where ids.version = latest.v and base_id not in (select base_id from voided)
        """
    )
    con.execute(
        """
        create temp table enrolled as
        select person_id, payer_type, birth_date, gender,
               greatest(enrollment_start_date, getvariable('mp_start')) as s,
               least(enrollment_end_date, getvariable('mp_end')) as e
        from eligibility
        where enrollment_start_date <= getvariable('mp_end')
          and enrollment_end_date >= getvariable('mp_start')
        """
    )
    con.execute(
        """
        create temp table people as
        select person_id, any_value(birth_date) as birth_date, any_value(gender) as gender,
               date_diff('year', any_value(birth_date), getvariable('mp_end'))
               - case when strftime(any_value(birth_date), '%m-%d') > '12-31' then 1 else 0 end
               as age,
               bool_or(e = getvariable('mp_end')) as enrolled_at_end
        from enrolled group by 1
        """
    )
    # Prevalence: any claim diagnosis in the MP or year before, or an EHR problem-list entry.
    dx_cols = " union all ".join(
        f"select person_id, diagnosis_code_{i} as code from claims_final "
        f"where claim_start_date between getvariable('mp_start') - interval 1 year "
        f"and getvariable('mp_end')"
        for i in range(1, 6)
    )
    con.execute(
        f"""
        create temp table dx as
        select distinct person_id, code from ({dx_cols}) where code is not null
        union
        select distinct person_id, source_code from condition
        """
    )
    for name, prefixes in ICD_GROUPS.items():
        cond = " or ".join(f"code like '{p}%'" for p in prefixes)
        cond += f" or code = '{SNOMED_GROUPS[name]}'"
        con.execute(
            f"create or replace temp table has_{name} as select distinct person_id from dx "
            f"where {cond}"
        )
    for name in ("diabetes", "hypertension"):
        bands = {}
        for band, lo, hi in (("18_44", 18, 44), ("45_64", 45, 64), ("65_plus", 65, 200)):
            val = con.execute(
                f"""select 100.0 * avg(case when h.person_id is not null then 1 else 0 end)
                from people p left join has_{name} h using (person_id)
                where p.age between {lo} and {hi}"""
            ).fetchone()[0]
            bands[band] = val
            out[f"{name}_{band}"] = round(val, 2)
        out[f"{name}_adult_standardised"] = round(
            sum(ADULT_WEIGHTS[b] * v for b, v in bands.items()), 2
        )
    for name in ("heart_failure", "copd"):
        out[f"{name}_65_plus"] = round(
            con.execute(
                f"""select 100.0 * avg(case when h.person_id is not null then 1 else 0 end)
                from people p left join has_{name} h using (person_id) where p.age >= 65"""
            ).fetchone()[0],
            2,
        )
    out["depression_adult"] = round(
        con.execute(
            """select 100.0 * avg(case when h.person_id is not null then 1 else 0 end)
            from people p left join has_depression h using (person_id) where p.age >= 18"""
        ).fetchone()[0],
        2,
    )

    # Utilisation per 1,000 member-years, by the payer type of the span covering the service date.
    con.execute(
        """
        create temp table member_years as
        select payer_type, sum(date_diff('day', s, e) + 1) / 365.25 as my from enrolled group by 1
        """
    )
    con.execute(
        """
        create temp table ed_visits as
        select distinct c.person_id, c.claim_start_date
        from claims_final c
        where c.bill_type_code like '13%' and c.revenue_center_code like '045%'
          and c.claim_start_date between getvariable('mp_start') and getvariable('mp_end')
        """
    )
    con.execute(
        """
        create temp table stays as
        select distinct person_id, admission_date, discharge_date, facility_npi,
               any_value(discharge_disposition_code) over (
                   partition by person_id, admission_date, discharge_date, facility_npi
               ) as disp
        from claims_final
        where bill_type_code like '11%' and admission_date is not null
        """
    )
    for label, tbl, date_col in (
        ("ed_per_1000", "ed_visits", "claim_start_date"),
        ("admits_per_1000", "stays", "admission_date"),
    ):
        rows = con.execute(
            f"""
            select e.payer_type, count(*) * 1000.0 / any_value(m.my)
            from {tbl} v join enrolled e on e.person_id = v.person_id
                 and v.{date_col} between e.s and e.e
            join member_years m on m.payer_type = e.payer_type
            where v.{date_col} between getvariable('mp_start') and getvariable('mp_end')
            group by 1
            """
        ).fetchall()
        for payer, val in rows:
            out[f"{label}_{payer}"] = round(val, 1)

    # Crude all-cause 30-day readmission (HCUP-style: includes planned), over the whole window so a
    # 20k run has enough index stays; index = live, non-transfer discharge with 30 days of run-out.
    con.execute(
        """
        create temp table stay_payer as
        select s.*, e.payer_type
        from stays s join eligibility e on e.person_id = s.person_id
             and s.discharge_date between e.enrollment_start_date and e.enrollment_end_date
        """
    )
    rows = con.execute(
        f"""
        with idx as (
            select * from stay_payer
            where disp not in ('20', '02') and discharge_date <= date '{as_of}' - interval 30 day
        )
        select payer_type, 100.0 * avg(case when exists (
                   select 1 from stays r where r.person_id = idx.person_id
                   and r.admission_date > idx.discharge_date
                   and r.admission_date <= idx.discharge_date + interval 30 day) then 1 else 0 end),
               count(*)
        from idx group by 1
        """
    ).fetchall()
    for payer, val, _n in rows:
        out[f"readmit_pct_{payer}"] = round(val, 2)

    # HbA1c > 9 or missing among diabetics 18-75 enrolled at the end of the MP (CMS122-like).
    out["a1c_poor_or_missing_pct"] = round(
        con.execute(
            """
            with den as (
                select p.person_id from people p join has_diabetes using (person_id)
                where p.age between 18 and 75 and p.enrolled_at_end
            ), tests as (
                select person_id, cast(result_datetime as date) as d, try_cast(result as double) as v
                from lab_result where source_component_code = '4548-4'
                union all
                select person_id, claim_start_date, case hcpcs_code when '3044F' then 6.5
                    when '3051F' then 7.5 when '3052F' then 8.5 else 9.5 end
                from claims_final where hcpcs_code in ('3044F', '3051F', '3052F', '3046F')
            ), last as (
                select person_id, arg_max(v, d) as v from tests
                where d between getvariable('mp_start') and getvariable('mp_end') group by 1
            )
            select 100.0 * avg(case when last.v is null or last.v > 9 then 1 else 0 end)
            from den left join last using (person_id)
            """
        ).fetchone()[0],
        2,
    )
    # Most recent BP < 140/90 among hypertensives 18-85 (CMS165-like, EHR readings and CPT II).
    out["bp_controlled_pct"] = round(
        con.execute(
            """
            with den as (
                select p.person_id from people p join has_hypertension using (person_id)
                where p.age between 18 and 85 and p.enrolled_at_end
            ), readings as (
                select person_id, observation_date as d,
                       max(case when source_code = '8480-6' then try_cast(result as double) end) as sbp,
                       max(case when source_code = '8462-4' then try_cast(result as double) end) as dbp
                from observation where source_code in ('8480-6', '8462-4')
                group by person_id, observation_date, panel_id
                union all
                select person_id, claim_start_date,
                       max(case hcpcs_code when '3074F' then 120 when '3075F' then 135
                           when '3077F' then 150 end),
                       max(case hcpcs_code when '3078F' then 70 when '3079F' then 85
                           when '3080F' then 95 end)
                from claims_final where hcpcs_code in ('3074F','3075F','3077F','3078F','3079F','3080F')
                group by 1, 2
            ), last as (
                select person_id, arg_max(sbp, d) as sbp, arg_max(dbp, d) as dbp from readings
                where d between getvariable('mp_start') and getvariable('mp_end')
                  and sbp is not null and dbp is not null group by 1
            )
            select 100.0 * avg(case when sbp < 140 and dbp < 90 then 1 else 0 end)
            from den left join last using (person_id)
            """
        ).fetchone()[0],
        2,
    )
    # Breast cancer screening: women 52-74, mammogram from 1 Oct two years before to MP end.
    out["breast_screening_pct"] = round(
        con.execute(
            """
            with den as (
                select person_id from people
                where gender = 'female' and age between 52 and 74 and enrolled_at_end
            ), num as (
                select person_id, claim_start_date as d from claims_final
                where hcpcs_code in ('77067', '77063', '77065', '77066')
                union all
                select person_id, procedure_date from procedure
                where source_code in ('77067', '24623002')
            )
            select 100.0 * avg(case when exists (select 1 from num where num.person_id = den.person_id
                and num.d between make_date(year(getvariable('mp_end')) - 2, 10, 1)
                and getvariable('mp_end')) then 1 else 0 end)
            from den
            """
        ).fetchone()[0],
        2,
    )
    # Colorectal screening: 50-75, colonoscopy in 10 years, FIT in the MP, FIT-DNA in 3 years.
    out["colorectal_screening_pct"] = round(
        con.execute(
            """
            with den as (
                select person_id from people where age between 50 and 75 and enrolled_at_end
            ), num as (
                select person_id, claim_start_date as d, 10 as yrs from claims_final
                where hcpcs_code in ('45378', '45380', 'G0121', 'G0105')
                union all
                select person_id, procedure_date, 10 from procedure
                where source_code in ('45378', '73761001', '0DJD8ZZ')
                union all
                select person_id, claim_start_date, 1 from claims_final
                where hcpcs_code in ('82274', 'G0328')
                union all
                select person_id, cast(result_datetime as date), 1 from lab_result
                where source_component_code = '29771-3'
                union all
                select person_id, claim_start_date, 3 from claims_final where hcpcs_code = '81528'
            )
            select 100.0 * avg(case when exists (select 1 from num where num.person_id = den.person_id
                and num.d <= getvariable('mp_end')
                and num.d > getvariable('mp_end') - to_years(num.yrs)) then 1 else 0 end)
            from den
            """
        ).fetchone()[0],
        2,
    )
    # Statin PDC >= 80% (PQA-like, crude): Medicare members with 2+ statin fills in the MP.
    statin_ndcs = "'00071015523', '00310075190', '00006074031'"
    out["statin_pdc80_medicare_pct"] = round(
        con.execute(
            f"""
            with fills as (
                select f.person_id, f.dispensing_date as d, f.days_supply as ds
                from pharmacy_claim f
                where f.ndc_code in ({statin_ndcs}) and f.quantity > 0
                  and f.dispensing_date between getvariable('mp_start') and getvariable('mp_end')
            ), members as (
                select person_id, min(d) as first_fill, count(distinct d) as n_fills
                from fills group by 1
            ), den as (
                select m.person_id, m.first_fill,
                       least(getvariable('mp_end'), max(e.e)) as period_end
                from members m join enrolled e using (person_id)
                where e.payer_type = 'medicare' and m.n_fills >= 2
                  and m.first_fill <= getvariable('mp_end') - interval 91 day
                group by 1, 2
            ), covered as (
                select distinct f.person_id, f.d + to_days(cast(g.k as integer)) as day
                from fills f, generate_series(0, 179) g(k)
                where g.k < f.ds
            )
            select 100.0 * avg(case when pdc >= 0.8 then 1 else 0 end) from (
                select den.person_id, count(c.day) * 1.0
                       / (date_diff('day', den.first_fill, den.period_end) + 1) as pdc
                from den left join covered c on c.person_id = den.person_id
                     and c.day between den.first_fill and den.period_end
                group by den.person_id, den.first_fill, den.period_end
            )
            """
        ).fetchone()[0],
        2,
    )
    # Depression screening among adults with an office visit in the MP (CMS2-like, no exclusions).
    out["depression_screening_pct"] = round(
        con.execute(
            """
            with den as (
                select distinct c.person_id from claims_final c join people p using (person_id)
                where p.age >= 18 and c.place_of_service_code in ('11', '02', '10')
                  and c.claim_start_date between getvariable('mp_start') and getvariable('mp_end')
            ), num as (
                select person_id from observation where source_code in ('44261-6', '73832-8')
                  and observation_date between getvariable('mp_start') and getvariable('mp_end')
                union
                select person_id from claims_final where hcpcs_code in ('G0444', '96127')
                  and claim_start_date between getvariable('mp_start') and getvariable('mp_end')
            )
            select 100.0 * avg(case when num.person_id is not null then 1 else 0 end)
            from den left join num using (person_id)
            """
        ).fetchone()[0],
        2,
    )
    con.close()
    return out


def compare(rates: dict[str, float]) -> list[tuple[str, float | None, float, float, bool]]:
    rows = []
    for name, (lo, hi, _src) in TARGETS.items():
        v = rates.get(name)
        rows.append((name, v, lo, hi, v is not None and lo <= v <= hi))
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    r = measure(Path(sys.argv[1]))
    for name, v, lo, hi, ok in compare(r):
        print(f"{'ok ' if ok else 'OUT'} {name:36s} {v!s:>8} [{lo}, {hi}]")
