"""Old Dagster runs are purged by popcare's own job (Dagster prunes ticks only)."""

from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance, DagsterRunStatus, job, op

from pipelines.maintenance import purge_runs_before


@op
def _noop() -> int:
    return 1


@job
def _tiny() -> None:
    _noop()


def test_purge_deletes_finished_runs_created_before_the_cutoff():
    with DagsterInstance.ephemeral() as instance:
        for _ in range(3):
            assert _tiny.execute_in_process(instance=instance).success
        runs = instance.get_runs()
        assert len(runs) == 3
        assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        keep = runs[0].run_id
        future = datetime.now(UTC) + timedelta(days=1)
        past = datetime.now(UTC) - timedelta(days=1)
        assert purge_runs_before(instance, past) == 0
        assert purge_runs_before(instance, future, keep_run_id=keep) == 2
        assert [r.run_id for r in instance.get_runs()] == [keep]
