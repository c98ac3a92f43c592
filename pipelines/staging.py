"""Staging: typing and row-level validation of the raw tables, with quarantine.

Each raw table (text as received) becomes ``staging.<table>`` with the contract's types and
normalised codes. A row that breaks a rule goes to ``audit.quarantine`` with the rule, the column and
the raw row as text; a value that is normalised rather than refused (a dotted ICD code, a hyphenated
NDC) is recorded in ``audit.corrections``. Per file, rows read = rows loaded + rows quarantined
(``audit.file_reconciliation``). The rules are declared per table below and compiled to one SQL
statement per table from the templates in ``sql/staging/``.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import duckdb
import yaml

from pipelines.codesets import icd10cm_verdicts
from pipelines.contract import TABLES, Table
from pipelines.sql import SQL_DIR, quote_ident, run_sql

# Rules, as named in audit.quarantine and in the generator's noise manifest.
MISSING_KEY = "missing_key"
MALFORMED_DATE = "malformed_date"
MALFORMED_NUMBER = "malformed_number"
MALFORMED_BOOLEAN = "malformed_boolean"
FUTURE_DATE = "future_date"
INVALID_CODE = "invalid_code"
DUPLICATE_LINE = "duplicate_line"
UNKNOWN_PERSON = "unknown_person"
DISCHARGE_BEFORE_ADMISSION = "discharge_before_admission"
END_BEFORE_START = "end_before_start"
DEATH_BEFORE_BIRTH = "death_before_birth"
# Corrections (value normalised, row kept).
DOTTED_CODE = "dotted_code"
NDC_NORMALISED = "ndc_normalised"


@dataclass(frozen=True)
class TypedCode:
    """A code column whose code system is named by another column (or fixed when ``type_column``
    is None). ``by_label`` maps a normalised type label to a code kind; ``default`` applies when
    the label is empty or not in ``by_label`` (None: no format check)."""

    column: str
    type_column: str | None = None
    by_label: dict[str, str | None] = field(default_factory=dict)
    default: str | None = None


@dataclass(frozen=True)
class TableRules:
    codes: tuple[TypedCode, ...] = ()
    # Dates of events: none may be after the as-of date (enrolment ends may be).
    event_dates: tuple[str, ...] = ()
    # (start column, end column, rule): end before start is refused.
    order_pairs: tuple[tuple[str, str, str], ...] = ()
    check_person: bool = True
    code_type_columns: tuple[str, ...] = ()
    sex_columns: tuple[str, ...] = ()


def _fixed(column: str, kind: str) -> TypedCode:
    return TypedCode(column, None, {}, kind)


_ICD_CM = {"icd-10-cm": "icd10cm", "icd-9-cm": "icd9cm", "snomed-ct": "snomed"}
_PROCEDURE = {"icd-10-pcs": "icd10pcs", "cpt": "hcpcs", "hcpcs": "hcpcs", "snomed-ct": "snomed"}
_OBSERVATION = {"loinc": "loinc", "snomed-ct": "snomed"}
_MEDICATION = {"ndc": "ndc", "rxnorm": "rxnorm"}
_BIRTH_DEATH = ("birth_date", "death_date", DEATH_BEFORE_BIRTH)
_N = range(1, 26)

RULES: dict[str, TableRules] = {
    "eligibility": TableRules(
        # A span starting after the as-of date is of no use as of that date and, in an extract
        # cut on that date, a sign of a keying error: refused as future_date.
        event_dates=("birth_date", "death_date", "enrollment_start_date"),
        order_pairs=(
            ("enrollment_start_date", "enrollment_end_date", END_BEFORE_START),
            _BIRTH_DEATH,
        ),
        check_person=False,
        sex_columns=("gender",),
    ),
    "patient": TableRules(
        event_dates=("birth_date", "death_date"),
        order_pairs=(_BIRTH_DEATH,),
        check_person=False,
        sex_columns=("sex",),
    ),
    "medical_claim": TableRules(
        codes=(
            # Diagnoses are ICD-10-CM whatever the (often wrong) type label says, unless ICD-9.
            *(
                TypedCode(
                    f"diagnosis_code_{i}", "diagnosis_code_type", {"icd-9-cm": "icd9cm"}, "icd10cm"
                )
                for i in _N
            ),
            *(
                TypedCode(
                    f"procedure_code_{i}", "procedure_code_type", {"icd-9-pcs": None}, "icd10pcs"
                )
                for i in _N
            ),
            _fixed("hcpcs_code", "hcpcs"),
            _fixed("rendering_npi", "npi"),
            _fixed("billing_npi", "npi"),
            _fixed("facility_npi", "npi"),
            _fixed("revenue_center_code", "revenue"),
            _fixed("bill_type_code", "bill_type"),
            _fixed("drg_code", "drg"),
            _fixed("place_of_service_code", "two_digit"),
            _fixed("discharge_disposition_code", "two_digit"),
        ),
        event_dates=(
            "claim_start_date",
            "claim_end_date",
            "claim_line_start_date",
            "claim_line_end_date",
            "admission_date",
            "discharge_date",
            *(f"procedure_date_{i}" for i in _N),
        ),
        order_pairs=(
            ("admission_date", "discharge_date", DISCHARGE_BEFORE_ADMISSION),
            ("claim_start_date", "claim_end_date", END_BEFORE_START),
            ("claim_line_start_date", "claim_line_end_date", END_BEFORE_START),
        ),
        code_type_columns=("diagnosis_code_type", "procedure_code_type"),
    ),
    "pharmacy_claim": TableRules(
        codes=(
            _fixed("ndc_code", "ndc"),
            _fixed("prescribing_provider_npi", "npi"),
            _fixed("dispensing_provider_npi", "npi"),
        ),
        event_dates=("dispensing_date",),
    ),
    "encounter": TableRules(
        codes=(
            TypedCode("primary_diagnosis_code", "primary_diagnosis_code_type", _ICD_CM, None),
            _fixed("facility_npi", "npi"),
            _fixed("drg_code", "drg"),
            _fixed("discharge_disposition_code", "two_digit"),
        ),
        event_dates=("encounter_start_date", "encounter_end_date"),
        order_pairs=(("encounter_start_date", "encounter_end_date", DISCHARGE_BEFORE_ADMISSION),),
        code_type_columns=("primary_diagnosis_code_type",),
    ),
    "condition": TableRules(
        codes=(
            TypedCode("source_code", "source_code_type", _ICD_CM, None),
            TypedCode("normalized_code", "normalized_code_type", _ICD_CM, None),
        ),
        event_dates=("recorded_date", "onset_date", "resolved_date"),
        code_type_columns=("source_code_type", "normalized_code_type"),
    ),
    "procedure": TableRules(
        codes=(
            TypedCode("source_code", "source_code_type", _PROCEDURE, None),
            TypedCode("normalized_code", "normalized_code_type", _PROCEDURE, None),
        ),
        event_dates=("procedure_date",),
        code_type_columns=("source_code_type", "normalized_code_type"),
    ),
    "lab_result": TableRules(
        codes=tuple(
            TypedCode(f"{kind}_code", f"{kind}_type", {"loinc": "loinc"}, None)
            for kind in (
                "source_order",
                "source_component",
                "normalized_order",
                "normalized_component",
            )
        ),
        event_dates=("result_datetime", "collection_datetime"),
        code_type_columns=(
            "source_order_type",
            "source_component_type",
            "normalized_order_type",
            "normalized_component_type",
        ),
    ),
    "observation": TableRules(
        codes=(
            TypedCode("source_code", "source_code_type", _OBSERVATION, None),
            TypedCode("normalized_code", "normalized_code_type", _OBSERVATION, None),
        ),
        event_dates=("observation_date",),
        code_type_columns=("source_code_type", "normalized_code_type"),
    ),
    "medication": TableRules(
        codes=(
            TypedCode("source_code", "source_code_type", _MEDICATION, None),
            _fixed("ndc_code", "ndc"),
            _fixed("rxnorm_code", "rxnorm"),
        ),
        event_dates=("dispensing_date", "prescribing_date"),
        code_type_columns=("source_code_type",),
    ),
    "provider_attribution": TableRules(
        codes=(
            _fixed("year_month", "year_month"),
            _fixed("payer_attributed_provider", "npi"),
            _fixed("custom_attributed_provider", "npi"),
        ),
    ),
    "registry": TableRules(
        event_dates=("enrolled_date", "last_outreach_date"),
        order_pairs=(("enrolled_date", "disenrolled_date", END_BEFORE_START),),
    ),
}

_DOTTED_KINDS = {"icd10cm", "icd9cm", "icd10pcs"}


@cache
def _expression_file() -> dict:
    return yaml.safe_load((SQL_DIR / "staging" / "expressions.yml").read_text(encoding="utf-8"))


def label_spellings() -> dict[str, list[str]]:
    return _expression_file()["code_type_labels"]


@cache
def expressions() -> dict[str, str]:
    raw = dict(_expression_file())
    raw.pop("code_type_labels")
    exprs = {k: " ".join(str(v).split()) for k, v in raw.items()}
    squashed = exprs["squashed_label"]
    whens = " ".join(
        f"when {squashed} in ({', '.join(repr(s) for s in spellings)}) then '{label}'"
        for label, spellings in label_spellings().items()
    )
    exprs["norm_code_type"] = (
        f"case when nullif(trim({{c}}), '') is null then null {whens} else lower(trim({{c}})) end"
    )
    exprs["valid_npi"] = exprs["valid_npi"].replace("{luhn_npi}", _luhn_npi_sql())
    exprs["valid_loinc"] = exprs["valid_loinc"].replace("{luhn_loinc}", _luhn_loinc_sql())
    return exprs


def _expr(name: str, column_sql: str) -> str:
    return expressions()[name].replace("{c}", column_sql)


def _doubled(digit: str) -> str:
    # Luhn doubling: 2d, minus 9 when that has two digits.
    return f"(2 * {digit} - case when {digit} >= 5 then 9 else 0 end)"


def _luhn_npi_sql() -> str:
    """Standard-SQL form of ``check_digits.npi_is_valid``: the prefix 80840 adds a constant 24."""
    terms = []
    for i in range(1, 10):
        digit = f"try_cast(substr(trim({{c}}), {i}, 1) as integer)"
        terms.append(_doubled(digit) if i % 2 == 1 else digit)
    total = " + ".join(["24", *terms])
    return f"(10 - ({total}) % 10) % 10 = try_cast(substr(trim({{c}}), 10, 1) as integer)"


def _luhn_loinc_sql() -> str:
    """Standard-SQL LOINC mod-10 check: the part before the dash, left-padded to 5 digits (zeros do
    not change a Luhn sum), with the digits in odd positions from the right doubled."""
    body = "lpad(split_part(trim({c}), '-', 1), 5, '0')"
    terms = []
    for i in range(1, 6):
        digit = f"try_cast(substr({body}, {i}, 1) as integer)"
        terms.append(_doubled(digit) if i % 2 == 1 else digit)
    check = "try_cast(split_part(trim({c}), '-', 2) as integer)"
    return f"(10 - ({' + '.join(terms)}) % 10) % 10 = {check}"


def _q(column: str) -> str:
    return f"r.{quote_ident(column)}"


def _present(column: str) -> str:
    return f"nullif(trim({_q(column)}), '') is not null"


def _label_in(type_column: str, labels: Iterable[str]) -> str:
    """True when the type column names one of ``labels`` (any accepted spelling)."""
    spellings = [s for label in labels for s in label_spellings().get(label, [label])]
    listed = ", ".join(f"'{s}'" for s in spellings)
    return f"{_expr('squashed_label', _q(type_column))} in ({listed})"


@dataclass(frozen=True)
class _Check:
    column: str
    rule: str
    predicate: str
    detail: str = ""


def _code_branches(code: TypedCode) -> list[tuple[str, str | None]]:
    """(condition on the type label, code kind) pairs, the default last."""
    if code.type_column is None:
        return [("true", code.default)]
    branches: list[tuple[str, str | None]] = [
        (_label_in(code.type_column, [name]), kind) for name, kind in code.by_label.items()
    ]
    if code.by_label:
        known = _label_in(code.type_column, code.by_label)
        branches.append((f"not coalesce({known}, false)", code.default))
    else:
        branches.append(("true", code.default))
    return branches


def _checks(table: Table, rules: TableRules) -> list[_Check]:
    checks: list[_Check] = []
    for name in table.required:
        checks.append(_Check(name, MISSING_KEY, f"not ({_present(name)})"))
    for column in table.columns:
        kind = {
            "date": ("norm_date", MALFORMED_DATE),
            "timestamp": ("norm_timestamp", MALFORMED_DATE),
            "integer": ("norm_integer", MALFORMED_NUMBER),
            "decimal(18,2)": ("norm_decimal", MALFORMED_NUMBER),
            "double": ("norm_double", MALFORMED_NUMBER),
            "boolean": ("norm_boolean", MALFORMED_BOOLEAN),
        }.get(column.sql_type)
        if kind:
            typed = _expr(kind[0], _q(column.name))
            checks.append(
                _Check(column.name, kind[1], f"{_present(column.name)} and {typed} is null")
            )
    for name in rules.event_dates:
        sql_type = table.column(name).sql_type
        typed = _expr("norm_date" if sql_type == "date" else "norm_timestamp", _q(name))
        checks.append(_Check(name, FUTURE_DATE, f"cast({typed} as date) > $as_of"))
    for start, end, rule in rules.order_pairs:
        s = _expr("norm_date", _q(start))
        e = _expr("norm_date", _q(end))
        checks.append(_Check(end, rule, f"{e} < {s}"))
    for code in rules.codes:
        for condition, kind in _code_branches(code):
            if kind is None:
                continue
            if kind == "ndc":  # valid when it normalises to 11 digits
                valid = f"{_expr('norm_ndc', _q(code.column))} is not null"
            else:
                valid = _expr(f"valid_{kind}", _q(code.column))
            checks.append(
                _Check(
                    code.column,
                    INVALID_CODE,
                    # SQL does not promise short-circuit evaluation: a null verdict is a failure.
                    f"{_present(code.column)} and {condition} and not coalesce({valid}, false)",
                    kind,
                )
            )
    return checks


def _any(predicates: Iterable[str]) -> str:
    """One predicate true when any of ``predicates`` is (``false`` for none)."""
    listed = [f"({p})" for p in predicates]
    return "\n    or ".join(listed) if listed else "false"


def _suspect_predicate(table: Table, rules: TableRules) -> str:
    """True for a raw row that breaks at least one per-row rule: evaluated once per row, in one
    pass over raw.<table>; the per-rule breakdown then runs on those few rows only."""
    return _any(c.predicate for c in _checks(table, rules))


def _failure_query(table: Table, rules: TableRules) -> str:
    """One row per (row, rule, column) broken. Per-row rules read ``stage_flagged`` (the rows the
    one-pass predicate flagged); duplicates and unknown persons need the whole table."""
    parts = [
        f"select r._source_file as source_file, r._row_number as row_number, "
        f"'{c.column}' as column_name, '{c.rule}' as rule, "
        f"{_sql_text(c.detail)} as detail\nfrom stage_flagged as r\nwhere {c.predicate}"
        for c in _checks(table, rules)
    ]
    # Exact duplicate lines: every contract column equal (null as empty); the first copy (file,
    # row) is kept. The row digest is computed once; the window runs on repeated digests only.
    parts.append(
        "select source_file, row_number, null as column_name, "
        f"'{DUPLICATE_LINE}' as rule, null as detail\nfrom (\n"
        "    select source_file, row_number,\n"
        "        row_number() over (partition by digest order by source_file, row_number)"
        " as copy_number\n"
        "    from stage_row_digests\n"
        "    where digest in (\n"
        "        select digest from stage_row_digests group by digest having count(*) > 1\n"
        "    )\n) as copies\nwhere copy_number > 1"
    )
    if rules.check_person and "person_id" in table.column_names:
        parts.append(
            "select r._source_file as source_file, r._row_number as row_number, "
            f"'person_id' as column_name, '{UNKNOWN_PERSON}' as rule, null as detail\n"
            f"from raw.{quote_ident(table.name)} as r\n"
            "where nullif(trim(r.person_id), '') is not null\n"
            "and trim(r.person_id) not in (\n"
            "    select trim(person_id) from raw.eligibility where person_id is not null\n"
            "    union\n"
            "    select trim(person_id) from raw.patient where person_id is not null\n)"
        )
    return "\nunion all\n".join(parts)


def _sql_text(value: str) -> str:
    return "null" if not value else "'" + value.replace("'", "''") + "'"


def _row_text(table: Table) -> str:
    """The raw row as one text value, columns in contract order separated by '|'."""
    cols = ", ".join(f"coalesce({_q(c)}, '')" for c in table.column_names)
    return f"concat_ws('|', {cols})"


def _corrections(table: Table, rules: TableRules) -> list[tuple[str, str, str, str]]:
    """(column, correction, detail, predicate) for every value normalised rather than refused."""
    found = []
    for code in rules.codes:
        for condition, kind in _code_branches(code):
            if kind in _DOTTED_KINDS:
                mark, correction, detail = "%.%", DOTTED_CODE, "dot removed"
            elif kind == "ndc":
                mark, correction, detail = "%-%", NDC_NORMALISED, "to 11 digits"
            else:
                continue
            predicate = (
                f"{_present(code.column)} and {condition} and {_q(code.column)} like '{mark}'"
            )
            found.append((code.column, correction, detail, predicate))
    return found


def _correction_predicate(table: Table, rules: TableRules) -> str:
    return _any(p for *_, p in _corrections(table, rules))


def _correction_query(table: Table, rules: TableRules) -> str:
    """Rows of ``stage_flagged`` (flagged in one pass) broken down per corrected column."""
    parts = [
        f"select r._load_id, '{table.name}', r._source_file, r._row_number, "
        f"'{column}', '{correction}', '{detail}'\nfrom stage_flagged as r\nwhere {predicate}"
        for column, correction, detail, predicate in _corrections(table, rules)
    ]
    if not parts:
        return (
            "select null, null, null, null, null, null, null from (select 1) as nothing where false"
        )
    return "\nunion all\n".join(parts)


def _typed_value(table: Table, rules: TableRules, column: str) -> str:
    sql_type = table.column(column).sql_type
    ref = _q(column)
    code = next((c for c in rules.codes if c.column == column), None)
    if code is not None:
        cases = []
        for condition, kind in _code_branches(code):
            norm = f"norm_{kind}" if kind else "text"
            cases.append(f"when {condition} then {_expr(norm, ref)}")
        return f"case {' '.join(cases)} else {_expr('text', ref)} end"
    if column in rules.code_type_columns:
        return _expr("norm_code_type", ref)
    if column in rules.sex_columns:
        return _expr("norm_sex", ref)
    return {
        "date": _expr("norm_date", ref),
        "timestamp": _expr("norm_timestamp", ref),
        "integer": _expr("norm_integer", ref),
        "decimal(18,2)": _expr("norm_decimal", ref),
        "double": _expr("norm_double", ref),
        "boolean": _expr("norm_boolean", ref),
    }.get(sql_type, _expr("text", ref))


def _typed_list(table: Table, rules: TableRules) -> str:
    return ",\n    ".join(
        f"{_typed_value(table, rules, c)} as {quote_ident(c)}" for c in table.column_names
    )


def compile_stage(table_name: str) -> dict[str, str]:
    """The SQL fragments that fill sql/staging/stage_table.sql for one table."""
    table, rules = TABLES[table_name], RULES[table_name]
    return {
        "table": quote_ident(table_name),
        "suspect_predicate": _suspect_predicate(table, rules),
        "failure_query": _failure_query(table, rules),
        "correction_predicate": _correction_predicate(table, rules),
        "correction_query": _correction_query(table, rules),
        "typed_list": _typed_list(table, rules),
        "raw_row": _row_text(table),
    }


@dataclass
class StageResult:
    table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    corrections: int
    by_rule: dict[str, int]
    files_unbalanced: list[str]


def _icd10cm_columns(table_name: str) -> list[str]:
    return [
        code.column
        for code in RULES[table_name].codes
        if any(kind == "icd10cm" for _, kind in _code_branches(code))
    ]


def _load_icd10cm_known(con: duckdb.DuckDBPyConnection, table_name: str) -> None:
    """temp table icd10cm_known: the distinct ICD-10-CM candidates of this table that exist."""
    columns = _icd10cm_columns(table_name)
    candidates: set[str] = set()
    for column in columns:
        rows = con.execute(
            f"select distinct upper(replace(trim({quote_ident(column)}), '.', '')) "
            f"from raw.{quote_ident(table_name)} where nullif(trim({quote_ident(column)}), '') is not null"
        ).fetchall()
        candidates.update(r[0] for r in rows)
    known = [code for code, ok in icd10cm_verdicts(candidates) if ok]
    con.execute("create or replace temp table icd10cm_known (code varchar primary key)")
    if known:
        con.executemany("insert into icd10cm_known values (?)", [(c,) for c in known])


def stage_table(con: duckdb.DuckDBPyConnection, table_name: str, as_of: date) -> StageResult:
    """Type and validate raw.<table> into staging.<table>, in one transaction."""
    con.begin()
    try:
        run_sql(con, "raw/audit_tables")
        _load_icd10cm_known(con, table_name)
        params = {"table_name": table_name, "as_of": as_of}
        run_sql(con, "staging/stage_table", params=params, identifiers=compile_stage(table_name))
        run_sql(
            con,
            "staging/reconcile",
            params={"table_name": table_name},
            identifiers={"table": quote_ident(table_name)},
        )
        result = _summarise(con, table_name)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result


def _summarise(con: duckdb.DuckDBPyConnection, table_name: str) -> StageResult:
    read, loaded, quarantined = con.execute(
        "select coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
        "coalesce(sum(rows_quarantined), 0) from audit.file_reconciliation where table_name = $t",
        {"t": table_name},
    ).fetchone()
    by_rule = dict(
        con.execute(
            "select rule, count(*) from audit.quarantine where table_name = $t "
            "group by rule order by count(*) desc, rule",
            {"t": table_name},
        ).fetchall()
    )
    corrections = con.execute(
        "select count(*) from audit.corrections where table_name = $t", {"t": table_name}
    ).fetchone()[0]
    unbalanced = [
        r[0]
        for r in con.execute(
            "select source_file from audit.file_reconciliation "
            "where table_name = $t and not balanced order by 1",
            {"t": table_name},
        ).fetchall()
    ]
    return StageResult(
        table_name, int(read), int(loaded), int(quarantined), corrections, by_rule, unbalanced
    )


def rules_for(table_name: str) -> Iterable[tuple[str, str]]:
    """(column, rule) pairs checked for a table, for documentation and tests."""
    table = TABLES[table_name]
    seen = []
    for check in _checks(table, RULES[table_name]):
        if (check.column, check.rule) not in seen:
            seen.append((check.column, check.rule))
    return seen
