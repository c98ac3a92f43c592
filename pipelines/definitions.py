"""The popcare Dagster code location: every asset, check, job, schedule, sensor and resource."""

from dagster import AssetKey, Definitions, colored_console_logger, in_process_executor

from pipelines.assets.core import core_assets
from pipelines.assets.measures import measure_assets
from pipelines.assets.outreach import build_outreach_assets
from pipelines.assets.raw import raw_assets
from pipelines.assets.readmissions import readmission_assets
from pipelines.assets.staging import staging_assets
from pipelines.checks import raw_checks, staging_checks
from pipelines.jobs import input_files_sensor, nightly_job, nightly_schedule, purge_schedule
from pipelines.maintenance import purge_old_runs
from pipelines.progress import progress_logger
from pipelines.resources import build_resources

# In-process executor: DuckDB allows one writer process, and the multiprocess executor both
# collides on the file lock and costs seconds of start-up per step.
defs = Definitions(
    assets=[
        *raw_assets,
        *staging_assets,
        *core_assets,
        *readmission_assets,
        *measure_assets,
        *build_outreach_assets([AssetKey(["marts", "measure_patient"])]),
    ],
    asset_checks=[*raw_checks, *staging_checks],
    jobs=[nightly_job, purge_old_runs],
    schedules=[nightly_schedule, purge_schedule],
    sensors=[input_files_sensor],
    resources=build_resources(),
    executor=in_process_executor,
    loggers={"console": colored_console_logger, "progress": progress_logger},
)
