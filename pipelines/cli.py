"""The ``popcare`` command line. Thin: ``popcare run`` executes the same Dagster job the schedule
runs, in-process, against the instance in DAGSTER_HOME (so ``popcare status`` and the UI see it)."""

import json
import os
import sys
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import click

from pipelines.resources import duckdb_resource
from pipelines.settings import (
    ENV_AS_OF,
    ENV_INPUT,
    ENV_MEASUREMENT_YEAR,
    ENV_OUT,
    ENV_WAREHOUSE,
    REPO_ROOT,
    SettingsError,
    measurement_period,
    parse_as_of,
    parse_max_row_drop,
    settings_from_env,
    warehouse_from_env,
)


def _ensure_dagster_home() -> None:
    """Use the repository's dagster.yaml and its ignored .dagster/ folder unless told otherwise."""
    if not os.environ.get("DAGSTER_HOME"):
        home = REPO_ROOT if (REPO_ROOT / "dagster.yaml").is_file() else Path.home() / ".popcare"
        os.environ["DAGSTER_HOME"] = str(home)
    state = Path(os.environ["DAGSTER_HOME"]) / ".dagster"
    os.environ.setdefault("POPCARE_DAGSTER_DIR", str(state))
    os.environ.setdefault("POPCARE_DAGSTER_COMPUTE_LOGS", str(state / "logs"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    Path(os.environ["POPCARE_DAGSTER_COMPUTE_LOGS"]).mkdir(parents=True, exist_ok=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="popcare")
def main() -> None:
    """popcare: population-health analytics for care-coordination teams.

    Ingests claims, EHR and registry extracts (Tuva Input Layer + registry) into DuckDB, computes
    quality measures and readmissions, scores risk and publishes outreach lists.
    """


def build_run_config(
    input_dir: str | None,
    out_dir: str | None,
    warehouse: str | None,
    as_of: str | None,
    measurement_year: str | None,
) -> dict[str, Any]:
    """Run config for the nightly job: each flag overrides its environment variable."""
    base = settings_from_env()
    settings = {
        "input_dir": str(Path(input_dir).expanduser().resolve()) if input_dir else base.input_dir,
        "out_dir": str(Path(out_dir).expanduser().resolve()) if out_dir else base.out_dir,
        "as_of": as_of if as_of is not None else base.as_of,
        "measurement_year": (
            measurement_year if measurement_year is not None else base.measurement_year
        ),
        "max_row_drop": base.max_row_drop,
    }
    # Fail fast, before Dagster starts, on values that cannot work.
    resolved_as_of = parse_as_of(settings["as_of"], settings["input_dir"])
    measurement_period(settings["measurement_year"], resolved_as_of)
    parse_max_row_drop(settings["max_row_drop"])
    database = str(Path(warehouse).expanduser().resolve()) if warehouse else warehouse_from_env()
    return {
        "resources": {
            "settings": {"config": settings},
            # Run config replaces the resource's whole config: restate the connection settings
            # (memory limit, insertion order) or DuckDB would run with its own defaults.
            "duckdb": {
                "config": {
                    "database": database,
                    "connection_config": duckdb_resource(database).connection_config,
                }
            },
        },
        "loggers": {"progress": {}},
    }


FILES_KEY = "outreach/outreach_files"
LAYERS = ("raw", "staging", "core", "marts")


def _materialized(result: Any) -> dict[str, Mapping[str, Any]]:
    """Asset (user string) -> metadata of what this run materialised."""
    return {
        event.materialization.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


def _value(meta: Mapping[str, Any], key: str) -> Any:
    entry = meta.get(key)
    return None if entry is None else entry.value


def _check_outcomes(result: Any) -> list[tuple[str, bool, str]]:
    """(``asset check``, passed, reason) of every check evaluated in the run; reasons are counts,
    rates, rule and file names (the checks' metadata), never a value from a row."""
    outcomes = []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        meta = evaluation.metadata
        reason = _value(meta, "reason") or ""
        if not reason and _value(meta, "failed_blocking") not in (None, "none"):
            reason = f"contract rules failed: {_value(meta, 'failed_blocking')}"
        if not reason and _value(meta, "files_out_of_balance"):
            reason = f"files out of balance with the load log: {_value(meta, 'files')}"
        name = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
        outcomes.append((name, bool(evaluation.passed), reason))
    return outcomes


def _rate_lines(meta: Mapping[str, Any]) -> list[str]:
    from pipelines.measures import load_measures

    lines = []
    for measure in load_measures():
        rate = _value(meta, f"{measure.id}_rate")
        if rate is None:
            continue
        eligible = (_value(meta, f"{measure.id}_denominator") or 0) - (
            _value(meta, f"{measure.id}_exclusions") or 0
        )
        if rate != rate:  # NaN: nothing left to divide by
            shown = "no rate (empty denominator)"
        elif measure.rate_unit == "proportion":
            shown = f"{rate:7.1%}  of {eligible:,.0f}"
        else:
            shown = f"{rate:7.1f}  per 1,000 member years ({eligible:,.0f} member years)"
        lines.append(f"    {measure.id:<18} {shown}")
    return lines


def _file_line(label: str, path: Path, started: float | None) -> str:
    earlier = started is not None and path.stat().st_mtime < started
    return f"    {label:<18} {path}" + ("  (from an earlier run)" if earlier else "")


def _summarise(
    result: Any,
    out_dir: Path | None = None,
    as_of: date | None = None,
    started: float | None = None,
) -> list[str]:
    """The end-of-run summary: rows per layer, key rates, list sizes, where files went, checks.
    Counts, rates and paths only: no identifiers. ``started`` (a timestamp) marks report files
    older than the run as from an earlier run."""
    materialized = _materialized(result)
    lines = ["Summary" + (f" (as of {as_of.isoformat()})" if as_of else "")]
    lines.append("  rows per layer:")
    for layer in LAYERS:
        counts = [
            value
            for key, meta in materialized.items()
            if key.split("/")[0] == layer
            for value in [_value(meta, "rows_in_table") or _value(meta, "rows")]
            if value is not None
        ]
        if counts:
            lines.append(f"    {layer:<8} {len(counts):>3} tables {sum(counts):>14,} rows")
    measure_meta = materialized.get("marts/measure_rates")
    if measure_meta is not None:
        lines.append("  measure rates (overall):")
        lines.extend(_rate_lines(measure_meta))
    readmission = materialized.get("marts/readmission_rates")
    if readmission is not None and _value(readmission, "overall_rate") is not None:
        lines.append(
            f"  30-day readmission rate (overall): {_value(readmission, 'overall_rate'):.1%} of "
            f"{_value(readmission, 'overall_index_stays') or 0:,} index stays"
        )
    files_meta = materialized.get(FILES_KEY)
    if files_meta is not None:
        try:
            manifest = json.loads(Path(_value(files_meta, "manifest")).read_text(encoding="utf-8"))
            sizes = manifest.get("row_counts", {})
        except (OSError, TypeError, ValueError):
            sizes = {}
        shown = ", ".join(f"{name} {rows:,}" for name, rows in sizes.items())
        lines.append(f"  outreach lists: {sum(sizes.values()):,} rows ({shown or 'no lists'})")
    lines.append("  files:")
    if files_meta is not None:
        lines.append(f"    outreach lists     {_value(files_meta, 'folder')}")
        lines.append(f"    latest pointer     {_value(files_meta, 'latest')}")
    if out_dir is not None and as_of is not None:
        day = as_of.isoformat()
        for label, path in (
            ("data quality", out_dir / "data-quality" / day / "index.html"),
            ("run report", out_dir / "report" / day / "index.html"),
        ):
            if path.is_file():
                lines.append(_file_line(label, path, started))
    outcomes = _check_outcomes(result)
    failed = [o for o in outcomes if not o[1]]
    lines.append(f"  checks: {len(outcomes)} evaluated, {len(failed)} failed")
    lines.extend(f"    FAILED {name}: {reason}" for name, _, reason in failed)
    return lines


def _failures(result: Any) -> list[str]:
    """What stopped the run: failed steps (the innermost error's message) and failed checks."""
    out = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            cause = error
            while cause.cause is not None:  # the user-facing message is on the innermost error
                cause = cause.cause
            if cause.cls_name == "DagsterAssetCheckFailedError":
                continue  # listed below, with the check's reason
            message = cause.message.strip()
            # "pipelines.ingest.InputError: <message>" -> "<message>": the class is noise here.
            prefix, _, rest = message.partition(": ")
            if cause.cls_name and prefix.endswith(cause.cls_name) and rest:
                message = rest
            out.append(f"{event.step_key.replace('__', '/')}: {message}")
    for name, passed, reason in _check_outcomes(result):
        if not passed:
            out.append(f"check {name} failed: {reason or 'see the check in the Dagster UI'}")
    return out


def _publication_line(result: Any, out_dir: Path) -> str:
    """Whether this run published its outreach lists, and which lists stand if it did not."""
    from pipelines.outreach import read_latest_pointer

    if FILES_KEY in _materialized(result):
        return "outreach lists published"
    latest = read_latest_pointer(out_dir)
    if latest is None:
        return "outreach lists not published; no earlier lists were published"
    folder = out_dir / "outreach" / str(latest["folder"])
    return (
        f"outreach lists not published; previous lists (as_of {latest.get('as_of_date')}) "
        f"stay in {folder}"
    )


@main.command()
@click.option("--input", "input_dir", type=click.Path(), help=f"Input folder [env {ENV_INPUT}].")
@click.option("--out", "out_dir", type=click.Path(), help=f"Output folder [env {ENV_OUT}].")
@click.option("--warehouse", type=click.Path(), help=f"DuckDB file [env {ENV_WAREHOUSE}].")
@click.option("--as-of", "as_of", help=f"As-of date YYYY-MM-DD [env {ENV_AS_OF}].")
@click.option(
    "--measurement-year",
    help=f"YYYY, or 'rolling' for the 12 months ending as-of [env {ENV_MEASUREMENT_YEAR}].",
)
def run(
    input_dir: str | None,
    out_dir: str | None,
    warehouse: str | None,
    as_of: str | None,
    measurement_year: str | None,
) -> None:
    """Run the nightly job in-process (what the schedule runs); exit 0 only on success."""
    try:
        run_config = build_run_config(input_dir, out_dir, warehouse, as_of, measurement_year)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    _ensure_dagster_home()
    from dagster import DagsterInstance

    from pipelines.definitions import defs

    settings = run_config["resources"]["settings"]["config"]
    database = run_config["resources"]["duckdb"]["config"]["database"]
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"popcare nightly run: input {settings['input_dir']}")
    click.echo(f"  warehouse {database}; outputs {settings['out_dir']}")
    job = defs.resolve_job_def("nightly")
    started = time.time()
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )
    click.echo("")
    out_path = Path(settings["out_dir"])
    as_of_date = parse_as_of(settings["as_of"], settings["input_dir"])
    click.echo("\n".join(_summarise(result, out_path, as_of_date, started)))
    if not result.success:
        click.echo(f"\npopcare run FAILED (run {result.run_id}):", err=True)
        for line in _failures(result) or ["see `make dev` for the run's logs"]:
            click.echo(f"  {line}", err=True)
        click.echo(_publication_line(result, out_path), err=True)
        sys.exit(1)
    click.echo(f"\nrun {result.run_id} succeeded; warehouse {database}")


@main.command()
@click.option("--input", "input_dir", type=click.Path(), help=f"Input folder [env {ENV_INPUT}].")
@click.option("--warehouse", type=click.Path(), help=f"DuckDB file [env {ENV_WAREHOUSE}].")
@click.option("--as-of", "as_of", help=f"Last day of history YYYY-MM-DD [env {ENV_AS_OF}].")
def train(input_dir: str | None, warehouse: str | None, as_of: str | None) -> None:
    """Train the risk model on this warehouse's own history and register a new version.

    Brings the warehouse up to date from the input first (the same assets the nightly job runs
    before the model), then trains with labels from the history before the as-of date and a
    temporal validation inside it, and regenerates the model card beside the model.
    """
    import shlex

    try:
        run_config = build_run_config(input_dir, None, warehouse, as_of, None)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    _ensure_dagster_home()
    from dagster import AssetKey, AssetSelection, DagsterInstance

    from models.train import TrainingDataError, train_and_register
    from pipelines.definitions import defs

    settings = run_config["resources"]["settings"]["config"]
    database = run_config["resources"]["duckdb"]["config"]["database"]
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Every asset the model reads, transitively (not the model itself, not what reads it).
    model = AssetSelection.assets(AssetKey(["models", "risk_model"]))
    wanted = (model.upstream() - model).resolve(defs.resolve_asset_graph())
    click.echo(f"bringing {database} up to date from {settings['input_dir']}")
    job = defs.resolve_job_def("nightly")
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            raise_on_error=False,
            asset_selection=sorted(wanted, key=lambda k: k.to_user_string()),
        )
    if not result.success:
        for line in _failures(result):
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    as_of_date = parse_as_of(settings["as_of"], settings["input_dir"])
    try:
        outcome = train_and_register(
            database, as_of_date, command="popcare train " + shlex.join(sys.argv[2:])
        )
    except TrainingDataError as exc:
        click.echo(f"cannot train: {exc}", err=True)
        click.echo("`popcare run` will score with the baseline (baseline-fallback).", err=True)
        sys.exit(1)
    click.echo(f"registered model {outcome.version} at {outcome.path}")


@main.command()
@click.option("--limit", default=10, show_default=True, help="How many recent runs to show.")
def status(limit: int) -> None:
    """What the last runs did and when, from Dagster's run storage."""
    _ensure_dagster_home()
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        records = instance.get_run_records(limit=limit)
        if not records:
            click.echo("no runs yet: `popcare run` or `make run` starts one")
            return
        for record in records:
            run = record.dagster_run
            start = record.start_time or record.create_timestamp.timestamp()
            end = record.end_time
            took = f"{end - start:7.1f}s" if end and start else "      -"
            when = date.fromtimestamp(start).isoformat() if start else "-"
            click.echo(f"{run.run_id[:8]}  {run.job_name:<16} {run.status.value:<10} {when} {took}")


@main.command()
@click.option("--patients", type=click.IntRange(min=1), required=True, help="People to simulate.")
@click.option("--seed", type=int, default=20260930, show_default=True, help="Random seed.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day (as-of).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True
)
@click.option(
    "--noise",
    type=click.FloatRange(0, 0.5),
    default=0.0,
    show_default=True,
    help="Share of rows given a data-quality fault (listed in noise_manifest.csv).",
)
def generate(
    patients: int, seed: int, start: Any, end: Any, out: Path, fmt: str, noise: float
) -> None:
    """Write a synthetic population in the input contract (same arguments, same bytes)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from pipelines.synthetic import generate as generate_population

    if end.date() <= start.date():
        raise click.UsageError("--end must be after --start")
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("simulating patients", total=patients)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = generate_population(
            patients, seed, start.date(), end.date(), out, fmt, noise, progress
        )
    rows = summary.get("row_counts", {})
    for table, n in rows.items():
        click.echo(f"  {table:<22} {n:>12,} rows")
    seconds = summary.get("seconds")
    took = f" in {seconds:.1f}s" if isinstance(seconds, (int, float)) else ""
    click.echo(f"wrote {patients:,} patients to {out}{took}")


@main.group()
def convert() -> None:
    """Convert other formats into the input contract."""


@convert.command("synthea")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def convert_synthea_command(src: Path, dest: Path) -> None:
    """Turn a Synthea CSV export (SRC) into input-contract tables in DEST."""
    from pipelines.adapters.synthea import convert_synthea

    try:
        written = convert_synthea(src, dest)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for table, rows in written.items():
        click.echo(f"  {table:<22} {rows:>10,} rows")
    click.echo(f"wrote {len(written)} tables to {dest}; run them with `popcare run --input {dest}`")


@main.command()
@click.option("--markdown", is_flag=True, help="Print the contract tables as Markdown.")
@click.option("--update-doc", is_flag=True, help="Regenerate the tables in docs/input-contract.md.")
def contract(markdown: bool, update_doc: bool) -> None:
    """Show the input contract (tables, columns, types, required columns)."""
    from pipelines.contract import TABLES, to_markdown
    from pipelines.contract import update_doc as write_doc

    if update_doc:
        write_doc(REPO_ROOT / "docs" / "input-contract.md")
        click.echo("docs/input-contract.md updated")
        return
    if markdown:
        click.echo(to_markdown(), nl=False)
        return
    for table in TABLES.values():
        click.echo(
            f"{table.name:<22} {len(table.columns):>4} columns; required: "
            f"{', '.join(table.required)}"
        )


if __name__ == "__main__":  # pragma: no cover
    main()
