"""Data-quality faults planted at ``--noise RATE``, each recorded in ``noise_manifest.csv``.

A fraction RATE of each table's rows carries one fault. The kinds are the ones real extracts show
(malformed dates, invalid or dotted codes, missing keys, duplicate lines, discharge before
admission, dates after the extract's as-of date, person ids nobody enrolled). ``is_faulty`` is the
independent check the tests use to confirm each manifest row really is faulty.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import numpy as np
import polars as pl

from pipelines.check_digits import loinc_is_valid

FAULTS = (
    "malformed_date",
    "invalid_code",
    "dotted_code",
    "missing_key",
    "duplicate_line",
    "discharge_before_admission",
    "future_date",
    "unknown_person",
)

# table: fault -> candidate columns (code faults carry (column, code system, row filter column))
SPECS: dict[str, dict] = {
    "eligibility": {
        "malformed_date": ["enrollment_start_date", "birth_date"],
        "missing_key": ["person_id"],
        "future_date": ["enrollment_start_date"],
        "duplicate_line": True,
    },
    "medical_claim": {
        "malformed_date": ["claim_start_date", "claim_end_date"],
        "invalid_code": [("diagnosis_code_1", "icd10cm"), ("hcpcs_code", "hcpcs")],
        "dotted_code": ["diagnosis_code_1"],
        "missing_key": ["claim_id", "person_id"],
        "future_date": ["claim_start_date"],
        "discharge_before_admission": ("admission_date", "discharge_date"),
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "pharmacy_claim": {
        "malformed_date": ["dispensing_date"],
        "invalid_code": [("ndc_code", "ndc")],
        "missing_key": ["claim_id", "person_id"],
        "future_date": ["dispensing_date"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "patient": {
        "malformed_date": ["birth_date"],
        "missing_key": ["person_id"],
        "duplicate_line": True,
    },
    "encounter": {
        "malformed_date": ["encounter_start_date"],
        "invalid_code": [("primary_diagnosis_code", "icd10cm")],
        "dotted_code": ["primary_diagnosis_code"],
        "missing_key": ["encounter_id", "person_id"],
        "future_date": ["encounter_start_date"],
        "discharge_before_admission": ("encounter_start_date", "encounter_end_date"),
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "condition": {
        "malformed_date": ["recorded_date"],
        "invalid_code": [("source_code", "icd10cm")],
        "dotted_code": ["source_code"],
        "missing_key": ["person_id"],
        "future_date": ["recorded_date"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "procedure": {
        "malformed_date": ["procedure_date"],
        "invalid_code": [("source_code", "hcpcs")],
        "missing_key": ["person_id"],
        "future_date": ["procedure_date"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "lab_result": {
        "malformed_date": ["result_datetime"],
        "invalid_code": [("source_component_code", "loinc")],
        "missing_key": ["person_id"],
        "future_date": ["result_datetime"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "observation": {
        "malformed_date": ["observation_date"],
        "invalid_code": [("source_code", "loinc")],
        "missing_key": ["person_id"],
        "future_date": ["observation_date"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "medication": {
        "malformed_date": ["prescribing_date"],
        "invalid_code": [("ndc_code", "ndc")],
        "missing_key": ["person_id"],
        "future_date": ["prescribing_date"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "provider_attribution": {
        "missing_key": ["person_id"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
    "registry": {
        "malformed_date": ["enrolled_date"],
        "missing_key": ["person_id"],
        "future_date": ["last_outreach_date"],
        "unknown_person": "person_id",
        "duplicate_line": True,
    },
}

# Which column of a code fault says the code system (rows of other systems are not candidates).
CODE_TYPE_COLUMN = {
    ("condition", "source_code"): ("source_code_type", "icd-10-cm"),
    ("procedure", "source_code"): ("source_code_type", "hcpcs"),
}

ICD10CM = re.compile(r"^[A-TV-Z][0-9][0-9A-Z]{1,5}$")
HCPCS = re.compile(r"^([0-9]{4}[0-9FTUM]|[A-V][0-9]{4})$")
NDC11 = re.compile(r"^[0-9]{11}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d+)?)?$")


def string_date_columns(table: str) -> list[str]:
    """Date columns that hold malformed values when noise is on (so Parquet stores them as text)."""
    return list(SPECS.get(table, {}).get("malformed_date", []))


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()


def _malformed(value: str, k: int) -> str:
    y, m, d = value[:4], value[5:7], value[8:10]
    rest = value[10:]
    forms = (f"{m}/{d}/{y}{rest}", f"{y}-13-{d}{rest}", f"{y}-02-30{rest}", f"{d}.{m}.{y}{rest}")
    return forms[k % len(forms)]


def _invalid(code: str, system: str, k: int) -> str:
    if system == "icd10cm":
        return ("9" + code[1:]) if k % 2 == 0 else code + "99999"
    if system == "hcpcs":
        return code[:4] + "A" if k % 2 == 0 else code + "0"
    if system == "ndc":
        return code[:9]
    if system == "loinc":
        body, _, check = code.partition("-")
        return f"{body}-{(int(check) + 1 + k % 8) % 10}"
    raise ValueError(system)


def apply(
    df: pl.DataFrame,
    table: str,
    rate: float,
    rng: np.random.Generator,
    end: date,
    unknown_start: int,
) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """Plant faults in one chunk of one table. Returns the frame and (row_index, column, fault),
    with row_index 0-based within the returned frame."""
    spec = SPECS.get(table, {})
    for col in string_date_columns(table):
        if df[col].dtype != pl.String:
            df = df.with_columns(
                pl.col(col).dt.strftime(
                    "%Y-%m-%d %H:%M:%S" if df[col].dtype == pl.Datetime("us") else "%Y-%m-%d"
                )
            )
    n = df.height
    if n == 0 or rate <= 0:
        return df, []
    k = int(rng.binomial(n, min(rate, 1.0)))
    kinds = [f for f in FAULTS if f in spec]
    if k == 0 or not kinds:
        return df, []
    per = np.full(len(kinds), k // len(kinds))
    per[: k % len(kinds)] += 1
    used = np.zeros(n, dtype=bool)
    faults: list[tuple[int, str, str]] = []
    updates: dict[str, dict[int, object]] = {}
    dup_rows: list[int] = []

    def pick(eligible: np.ndarray, count: int) -> np.ndarray:
        cand = np.flatnonzero(eligible & ~used)
        if len(cand) == 0 or count == 0:
            return np.zeros(0, dtype=np.int64)
        chosen = np.sort(rng.choice(cand, size=min(count, len(cand)), replace=False))
        used[chosen] = True
        return chosen

    for kind, count in zip(kinds, per, strict=True):
        if kind == "duplicate_line":
            rows = pick(np.ones(n, bool), count)
            dup_rows.extend(rows.tolist())
            continue
        if kind == "discharge_before_admission":
            a_col, d_col = spec[kind]
            elig = df[a_col].is_not_null().to_numpy() & df[d_col].is_not_null().to_numpy()
            rows = pick(elig, count)
            admits = df[a_col].gather(rows).to_list()
            text = df[d_col].dtype == pl.String
            for j, (r, a) in enumerate(zip(rows, admits, strict=True)):
                a = date.fromisoformat(a[:10]) if isinstance(a, str) else a
                before = a - timedelta(days=1 + j % 5)
                updates.setdefault(d_col, {})[int(r)] = before.isoformat() if text else before
                faults.append((int(r), d_col, kind))
            continue
        if kind == "unknown_person":
            col = spec[kind]
            rows = pick(df[col].is_not_null().to_numpy(), count)
            for j, r in enumerate(rows):
                updates.setdefault(col, {})[int(r)] = f"P{unknown_start + j:08d}"
                faults.append((int(r), col, kind))
            continue
        cols = spec[kind]
        # Spread the kind's rows over its candidate columns.
        share = np.full(len(cols), count // len(cols))
        share[: count % len(cols)] += 1
        for c, cnt in zip(cols, share, strict=True):
            system = None
            if isinstance(c, tuple):
                c, system = c
            elig = df[c].is_not_null().to_numpy()
            tc = CODE_TYPE_COLUMN.get((table, c))
            if tc is not None:
                elig &= (df[tc[0]] == tc[1]).fill_null(False).to_numpy()
            if kind == "dotted_code":
                elig &= (df[c].str.len_chars() > 3).fill_null(False).to_numpy()
            rows = pick(elig, int(cnt))
            values = df[c].gather(rows).to_list()
            for j, (r, v) in enumerate(zip(rows, values, strict=True)):
                if kind == "malformed_date":
                    new = _malformed(v, j)
                elif kind == "invalid_code":
                    new = _invalid(v, system, j)
                elif kind == "dotted_code":
                    new = v[:3] + "." + v[3:]
                elif kind == "missing_key":
                    new = None
                elif kind == "future_date":
                    shift = timedelta(days=int(1 + (j * 37) % 400))
                    if isinstance(v, str):  # a text column (noise mode): keep the ISO form
                        fut = end + shift
                        new = fut.isoformat() + v[10:] if len(v) > 10 else fut.isoformat()
                    elif hasattr(v, "hour"):
                        new = v.replace(year=end.year, month=end.month, day=end.day) + shift
                    else:
                        new = end + shift
                else:  # pragma: no cover
                    raise ValueError(kind)
                updates.setdefault(c, {})[int(r)] = new
                faults.append((int(r), c, kind))

    if updates:
        new_cols = []
        for col, vals in updates.items():
            idx = np.fromiter(vals.keys(), dtype=np.int64)
            s = df[col].scatter(idx, pl.Series(list(vals.values()), dtype=df[col].dtype))
            new_cols.append(s)
        df = df.with_columns(new_cols)
    if dup_rows:
        copies = df[sorted(dup_rows)]
        start = df.height
        df = pl.concat([df, copies])
        faults.extend((start + j, "", "duplicate_line") for j in range(len(dup_rows)))
    faults.sort()
    return df, faults


def code_system(table: str, column: str) -> str | None:
    for c in SPECS.get(table, {}).get("invalid_code", []):
        if c[0] == column:
            return c[1]
    return None


def is_valid_code(value: str, system: str) -> bool:
    if system == "icd10cm":
        return bool(ICD10CM.match(value))
    if system == "hcpcs":
        return bool(HCPCS.match(value))
    if system == "ndc":
        return bool(NDC11.match(value))
    if system == "loinc":
        return loinc_is_valid(value)
    raise ValueError(system)


def is_faulty(
    table: str, fault: str, column: str, row: dict, as_of: date, persons: set[str], rows: list
) -> bool:
    """Independent check that a manifest row is what it says (values as text, as read from CSV)."""
    v = row.get(column) if column else None
    if fault == "malformed_date":
        return v is not None and not _parses(v)
    if fault == "invalid_code":
        return v is not None and not is_valid_code(v, code_system(table, column))
    if fault == "dotted_code":
        return v is not None and "." in v
    if fault == "missing_key":
        return v in (None, "")
    if fault == "duplicate_line":
        return rows.count(row) >= 2
    if fault == "future_date":
        return v is not None and _parses(v) and date.fromisoformat(v[:10]) > as_of
    if fault == "discharge_before_admission":
        other = "admission_date" if column == "discharge_date" else "encounter_start_date"
        return date.fromisoformat(v[:10]) < date.fromisoformat(row[other][:10])
    if fault == "unknown_person":
        return v not in persons
    raise ValueError(fault)


def _parses(v: str) -> bool:
    if not ISO_DATE.match(v):
        return False
    try:
        date.fromisoformat(v[:10])
    except ValueError:
        return False
    return True
