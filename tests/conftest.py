"""Shared fixtures. Public synthetic data in ../shared/data is read-only: tests copy before modifying."""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.settings import REPO_ROOT

SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TUVA_SAMPLE = SHARED_DATA / "tuva-synthetic-10"
SYNTHEA_SAMPLE = SHARED_DATA / "synthea-ma-11"


@pytest.fixture
def tuva_dir(tmp_path: Path) -> Path:
    """A writable copy of the Tuva Input Layer synthetic sample (10 Medicare persons)."""
    if not TUVA_SAMPLE.is_dir():
        pytest.skip(f"public Tuva sample not found at {TUVA_SAMPLE} (../shared/data is absent)")
    dest = tmp_path / "tuva"
    shutil.copytree(TUVA_SAMPLE, dest)
    return dest


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated Dagster instance using the repository's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("POPCARE_DAGSTER_DIR", str(home / ".dagster"))
    monkeypatch.setenv("POPCARE_DAGSTER_COMPUTE_LOGS", str(home / ".dagster" / "logs"))
    (home / ".dagster" / "logs").mkdir(parents=True)
    for name in (
        "POPCARE_INPUT",
        "POPCARE_WAREHOUSE",
        "POPCARE_OUT",
        "POPCARE_AS_OF",
        "POPCARE_MEASUREMENT_YEAR",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@dataclass(frozen=True)
class SampleRun:
    """One run of the nightly job on the bundled sample (see ``sample_nightly``)."""

    work: Path
    warehouse: Path
    out: Path
    result: Any


def run_nightly_on_sample(warehouse: Path, out: Path) -> Any:
    """Execute the nightly job in-process on data/sample/ with an ephemeral Dagster instance."""
    from dagster import DagsterInstance

    from pipelines.cli import build_run_config
    from pipelines.definitions import defs
    from pipelines.settings import SAMPLE_DIR

    config = build_run_config(str(SAMPLE_DIR), str(out), str(warehouse), None, None)
    config.pop("loggers")
    with DagsterInstance.ephemeral() as instance:
        return defs.resolve_job_def("nightly").execute_in_process(
            run_config=config, instance=instance, raise_on_error=False
        )


@pytest.fixture(scope="session")
def sample_nightly(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """The nightly job run once per test session on the sample; shared by the end-to-end,
    notebook and report tests. Treat the warehouse as read-only (open it with read_only=True)."""
    work = tmp_path_factory.mktemp("sample-nightly")
    warehouse, out = work / "warehouse.duckdb", work / "out"
    result = run_nightly_on_sample(warehouse, out)
    return SampleRun(work=work, warehouse=warehouse, out=out, result=result)
