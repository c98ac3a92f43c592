"""Shared fixtures. Public synthetic data in ../shared/data is read-only: tests copy before modifying."""

import shutil
from pathlib import Path

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
