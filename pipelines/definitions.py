"""The popcare Dagster code location: every asset, check, job, schedule, sensor and resource."""

from dagster import Definitions, colored_console_logger, in_process_executor

from pipelines.assets.core import core_assets
from pipelines.assets.measures import measure_assets
from pipelines.assets.outreach import GATED_MARTS, UPSTREAM_MARTS, build_outreach_assets
from pipelines.assets.raw import raw_assets
from pipelines.assets.readmissions import readmission_assets
from pipelines.assets.report import report_assets
from pipelines.assets.risk import (
    MEASURE_PATIENT,
    READMISSION_INDEX_STAYS,
    build_risk_assets,
    retrain_job,
    retrain_schedule,
)
from pipelines.assets.staging import staging_assets
from pipelines.checks import publication_checks, raw_checks, staging_checks
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
        *build_risk_assets([READMISSION_INDEX_STAYS, MEASURE_PATIENT]),
        *build_outreach_assets([*UPSTREAM_MARTS, *GATED_MARTS]),
        *report_assets,
    ],
    asset_checks=[*raw_checks, *staging_checks, *publication_checks],
    jobs=[nightly_job, purge_old_runs, retrain_job],
    schedules=[nightly_schedule, purge_schedule, retrain_schedule],
    sensors=[input_files_sensor],
    resources=build_resources(),
    executor=in_process_executor,
    loggers={"console": colored_console_logger, "progress": progress_logger},
)
