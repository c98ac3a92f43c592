"""Housekeeping: Dagster keeps every run forever (``retention`` prunes schedule/sensor ticks only),
so a small weekly job deletes runs older than ``POPCARE_RUN_RETENTION_DAYS`` (default 90)."""

import os
from datetime import UTC, datetime, timedelta

from dagster import Config, DagsterInstance, OpExecutionContext, RunsFilter, job, op

DEFAULT_RETENTION_DAYS = 90


def purge_runs_before(instance: DagsterInstance, cutoff: datetime, keep_run_id: str = "") -> int:
    """Delete finished runs created before ``cutoff``; returns how many were deleted."""
    deleted = 0
    records = instance.get_run_records(filters=RunsFilter(created_before=cutoff))
    for record in records:
        run = record.dagster_run
        if run.run_id == keep_run_id or not run.is_finished:
            continue
        instance.delete_run(run.run_id)
        deleted += 1
    return deleted


class PurgeConfig(Config):
    retention_days: int = int(os.environ.get("POPCARE_RUN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


@op
def purge_old_runs_op(context: OpExecutionContext, config: PurgeConfig) -> int:
    cutoff = datetime.now(UTC) - timedelta(days=config.retention_days)
    deleted = purge_runs_before(context.instance, cutoff, keep_run_id=context.run_id)
    context.log.info(f"deleted {deleted} run(s) older than {config.retention_days} days")
    return deleted


@job(description="Delete Dagster runs older than the retention period (default 90 days).")
def purge_old_runs() -> None:
    purge_old_runs_op()
