"""Great Expectations contract suites for the staging tables.

One suite per contract table, built from the contract (``pipelines/contract.py``) and the staging
rules (``pipelines/staging.py``), run by a Dagster asset check on ``staging/<table>``. GX runs on an
ephemeral context (no cloud, no files) through pandas. The exhaustive row-level checks are the
staging SQL (every row, in DuckDB); GX is the independent second line on the typed tables. GX
imports in ~10 s and validates through pandas, so a table above ``MAX_ROWS`` is validated on a
deterministic sample of that many rows (the metadata says so), and only the columns the
expectations read are converted. At 100k patients the twelve suites took 80 s with 200,000-row
samples of every column, 27 s with only the read columns, 9 s with 50,000 rows (issue 9).

PHI: result formats are limited to counts (``partial_unexpected_count: 0``, no unexpected rows or
index lists), so no value from a row reaches a report, the run database or a log.
"""

import os
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from typing import Any

import duckdb

from pipelines.contract import TABLES
from pipelines.sql import quote_ident
from pipelines.staging import RULES

MAX_ROWS = int(os.environ.get("POPCARE_GX_MAX_ROWS", "50000"))
RESULT_FORMAT = {
    "result_format": "BASIC",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}

# Regexes of the normalised values in staging (sql/staging/expressions.yml gives the raw rules).
FORMATS = {
    "icd10cm": r"^[A-Z][0-9][0-9A-Z]{1,5}$",
    "icd10pcs": r"^[0-9A-HJ-NP-Z]{7}$",
    "hcpcs": r"^(?:[0-9]{4}[0-9FTU]|[A-V][0-9]{4})$",
    "npi": r"^[0-9]{10}$",
    "ndc": r"^[0-9]{11}$",
    "revenue": r"^[0-9]{4}$",
    "bill_type": r"^[0-9]{2}[0-9A-Z]$",
    "two_digit": r"^[0-9]{2}$",
    "drg": r"^[0-9]{3}$",
    "rxnorm": r"^[0-9]{1,8}$",
    "year_month": r"^[0-9]{6}$",
}
# Single-column primary keys in the Tuva Input Layer: duplicates are reported, not blocking.
UNIQUE_IDS = {
    "encounter": "encounter_id",
    "condition": "condition_id",
    "procedure": "procedure_id",
    "lab_result": "lab_result_id",
    "observation": "observation_id",
    "medication": "medication_id",
}
VALUE_SETS = {
    ("medical_claim", "claim_type"): ["institutional", "professional", "undetermined"],
}


@dataclass(frozen=True)
class SuiteOutcome:
    table: str
    rows_in_table: int
    rows_validated: int
    evaluated: int
    failed_critical: list[str]
    failed_warning: list[str]

    @property
    def passed(self) -> bool:
        return not self.failed_critical


@cache
def _gx() -> Any:
    # No usage statistics from an offline, PHI-handling pipeline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def ephemeral_context() -> Any:
    """A GX context that lives in memory only: no project folder, no cloud, no progress bars."""
    context = _gx().get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def build_suite(table_name: str, as_of: date) -> tuple[Any, dict[str, bool]]:
    """The contract suite of a table, and for each expectation whether it is critical.
    Needs an active GX context (``ephemeral_context()``)."""
    gx = _gx()
    ex = gx.expectations
    table, rules = TABLES[table_name], RULES[table_name]
    suite = gx.ExpectationSuite(name=f"{table_name}_contract")
    critical: dict[str, bool] = {}

    def add(expectation: Any, is_critical: bool, label: str) -> None:
        expectation.meta = {"label": label}
        suite.add_expectation(expectation)
        critical[label] = is_critical

    add(
        ex.ExpectTableColumnsToMatchOrderedList(
            column_list=[*table.column_names, "_source_file", "_row_number"]
        ),
        True,
        "columns are the contract's, in order",
    )
    for name in table.required:
        add(ex.ExpectColumnValuesToNotBeNull(column=name), True, f"{name} not null")
    for code in rules.codes:
        if code.type_column is None and code.default in FORMATS:
            add(
                ex.ExpectColumnValuesToMatchRegex(column=code.column, regex=FORMATS[code.default]),
                True,
                f"{code.column} is a valid {code.default} code",
            )
    for name in rules.event_dates:
        add(
            ex.ExpectColumnValuesToBeBetween(
                column=name,
                min_value=datetime(1900, 1, 1),
                max_value=datetime.combine(as_of, time.max),
            ),
            True,
            f"{name} between 1900-01-01 and the as-of date",
        )
    for name in rules.sex_columns:
        add(
            ex.ExpectColumnValuesToBeInSet(column=name, value_set=["male", "female", "unknown"]),
            False,
            f"{name} is male, female or unknown",
        )
    if table_name in UNIQUE_IDS:
        column = UNIQUE_IDS[table_name]
        add(ex.ExpectColumnValuesToBeUnique(column=column), False, f"{column} is unique")
    for (name, column), values in VALUE_SETS.items():
        if name == table_name:
            add(
                ex.ExpectColumnValuesToBeInSet(column=column, value_set=values),
                False,
                f"{column} in {', '.join(values)}",
            )
    return suite, critical


def _value_columns(suite: Any) -> list[str]:
    """The columns the suite's column expectations read, in order of first use."""
    columns: list[str] = []
    for expectation in suite.expectations:
        column = getattr(expectation, "column", None)
        if column and column not in columns:
            columns.append(column)
    return columns


def _frames(
    con: duckdb.DuckDBPyConnection, table_name: str, columns: list[str]
) -> tuple[Any, Any, int]:
    """(every column with no rows, for the table-level expectations; the rows of ``columns`` to
    validate; the table's row count). Above MAX_ROWS rows the rows are a repeatable sample. Only
    the columns an expectation reads go through pandas: at 100k patients the whole 170-column
    medical_claim sample cost more to convert than the expectations to evaluate."""
    ident = quote_ident(table_name)
    total = con.execute(f"select count(*) from staging.{ident}").fetchone()[0]
    empty = con.execute(f"select * from staging.{ident} limit 0").df()
    # Dates arrive as datetime64, compared as datetimes.
    sample = f" using sample reservoir({MAX_ROWS} rows) repeatable (42)" if total > MAX_ROWS else ""
    # A column the table lacks is left out: its expectations then fail as not evaluable.
    present = [c for c in columns if c in empty.columns]
    select_list = ", ".join(quote_ident(c) for c in present) or "1 as no_column"
    rows = con.execute(f"select {select_list} from staging.{ident}{sample}").df()
    return empty, rows, total


def _validate(context: Any, name: str, frame: Any, suite: Any) -> Any:
    source = context.data_sources.add_pandas(f"popcare_{name}")
    batch_definition = source.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe(
        "all"
    )
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    return batch.validate(suite, result_format=RESULT_FORMAT)


def validate_table(con: duckdb.DuckDBPyConnection, table_name: str, as_of: date) -> SuiteOutcome:
    context = ephemeral_context()
    suite, critical = build_suite(table_name, as_of)
    gx = _gx()
    table_suite = gx.ExpectationSuite(name=f"{table_name}_contract_table")
    value_suite = gx.ExpectationSuite(name=f"{table_name}_contract_values")
    for expectation in suite.expectations:
        is_column = getattr(expectation, "column", None) is not None
        (value_suite if is_column else table_suite).add_expectation(expectation)
    empty, frame, total = _frames(con, table_name, _value_columns(value_suite))
    results = [
        *_validate(context, f"{table_name}_columns", empty, table_suite).results,
        *_validate(context, table_name, frame, value_suite).results,
    ]
    failed_critical, failed_warning = [], []
    for item in results:
        if item.success:
            continue
        label = item.expectation_config.meta["label"]
        count = (item.result or {}).get("unexpected_count")
        raised = (item.exception_info or {}).get("raised_exception") or not item.result
        text = f"{label} ({count} rows)" if count is not None else label
        if raised:  # an expectation that could not be evaluated is a failure, never a pass
            text = f"{label} (could not be evaluated)"
        (failed_critical if critical[label] else failed_warning).append(text)
    return SuiteOutcome(
        table_name,
        total,
        len(frame),
        len(results),
        failed_critical,
        failed_warning,
    )
