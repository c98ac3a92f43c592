"""Jobs, schedules and sensors.

- ``nightly``: the whole asset graph, run on a schedule (default 02:00, timezone explicit) and by a
  sensor when new or changed files land in the input folder.
- ``purge_old_runs``: weekly housekeeping of Dagster's run storage.
"""

import hashlib
import json
import os
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    sensor,
)

from pipelines.ingest import InputError, take_inventory
from pipelines.maintenance import purge_old_runs
from pipelines.settings import settings_from_env

NIGHTLY_CRON = os.environ.get("POPCARE_NIGHTLY_CRON", "0 2 * * *")
TIMEZONE = os.environ.get("POPCARE_TIMEZONE", "UTC")

nightly_job = define_asset_job(
    "nightly",
    selection=AssetSelection.all(),
    description="Ingest -> core -> measures and readmissions -> risk scores -> outreach -> report.",
)

nightly_schedule = ScheduleDefinition(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
    description="The nightly run (POPCARE_NIGHTLY_CRON in POPCARE_TIMEZONE; default 02:00 UTC).",
)

purge_schedule = ScheduleDefinition(
    name="purge_old_runs_weekly",
    job=purge_old_runs,
    cron_schedule="30 3 * * 0",
    execution_timezone=TIMEZONE,
    default_status=DefaultScheduleStatus.RUNNING,
)


def input_fingerprint(input_dir: str) -> str:
    """A fingerprint of the contract files in the input folder: names, sizes and modification times."""
    inventory = take_inventory(Path(input_dir))
    listing = sorted(
        (f.relative, f.path.stat().st_size, f.path.stat().st_mtime_ns)
        for files in inventory.files.values()
        for f in files
    )
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


@sensor(
    job=nightly_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.STOPPED,
    description="Starts the nightly job when new or changed files land in the input folder.",
)
def input_files_sensor(context: SensorEvaluationContext):
    input_dir = str(settings_from_env().input_path)
    try:
        fingerprint = input_fingerprint(input_dir)
    except InputError as exc:
        return SkipReason(str(exc))
    if fingerprint == context.cursor:
        return SkipReason("no new or changed input files")
    context.update_cursor(fingerprint)
    return RunRequest(run_key=fingerprint)
