"""The Dagster code location loads and is wired as the guide says."""

import subprocess
import sys

from dagster import DagsterInstance, in_process_executor

from pipelines.definitions import defs
from pipelines.jobs import input_fingerprint
from pipelines.settings import REPO_ROOT


def test_nightly_job_covers_every_asset_and_runs_in_process():
    job = defs.resolve_job_def("nightly")
    assert job.executor_def is in_process_executor
    graph = defs.resolve_asset_graph()
    raw_keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert "raw/input_inventory" in raw_keys
    assert {"raw/eligibility", "raw/registry", "raw/medical_claim"} <= raw_keys
    selected = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert selected == raw_keys


def test_schedules_have_an_explicit_timezone():
    nightly = defs.resolve_schedule_def("nightly_schedule")
    assert nightly.cron_schedule == "0 2 * * *"
    assert nightly.execution_timezone == "UTC"
    assert nightly.job_name == "nightly"
    purge = defs.resolve_schedule_def("purge_old_runs_weekly")
    assert purge.job_name == "purge_old_runs"


def test_every_asset_has_a_description_and_a_layer_group():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name == key.path[0], key
        assert node.description, key


def test_dagster_definitions_validate(dagster_home):
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_sensor_fingerprint_changes_when_a_file_changes(tmp_path):
    (tmp_path / "eligibility.csv").write_text("person_id\n1\n")
    before = input_fingerprint(str(tmp_path))
    assert input_fingerprint(str(tmp_path)) == before
    (tmp_path / "eligibility.csv").write_text("person_id\n1\n2\n")
    assert input_fingerprint(str(tmp_path)) != before
    (tmp_path / "notes.txt").write_text("not an input")
    after = input_fingerprint(str(tmp_path))
    (tmp_path / "notes2.txt").write_text("still not an input")
    assert input_fingerprint(str(tmp_path)) == after


def test_instance_uses_the_repository_dagster_yaml(dagster_home):
    with DagsterInstance.get() as instance:
        assert instance.run_coordinator is not None
        settings = instance.get_settings("concurrency")
        assert settings["runs"]["max_concurrent_runs"] == 1
        assert str(dagster_home / ".dagster") in str(instance.storage_directory())
