"""The analysts' marimo notebooks (notebooks/*.py): each runs top to bottom on the sample warehouse,
shows the warehouse's real numbers, opens it read-only, and the folder holds no outputs or data.

Every notebook is run with ``marimo export html`` in a subprocess (the way an analyst publishes a
report): exit 0 means every cell ran. marimo writes a snapshot of the outputs to ``__marimo__/``
beside the notebook when exporting; ``PYTHONPYCACHEPREFIX`` moves it under the test's temporary
folder (marimo mirrors absolute notebook paths under ``sys.pycache_prefix``), so a test run leaves
nothing in notebooks/.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines.settings import REPO_ROOT, SAMPLE_DIR

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.py"))
NOTEBOOK_TIMEOUT_SECONDS = 600


def _notebook_env(warehouse: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["POPCARE_WAREHOUSE"] = str(warehouse)
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path / "pycache")
    return env


def _run_as_script(notebook: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """``python notebook.py``: marimo runs the app headless and a failing cell's exception
    propagates with its traceback (file and line in the notebook)."""
    return subprocess.run(
        [sys.executable, str(notebook)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=NOTEBOOK_TIMEOUT_SECONDS,
    )


_JSON_ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|["\\/bfnrt])')


def _shown_text(exported_html: str) -> str:
    """The text of an exported page: marimo embeds each cell's output as HTML inside JSON (and
    tables as JSON inside HTML attributes), so undo JSON escapes and HTML entities twice, then
    collapse whitespace (rendered markdown keeps the source's line breaks)."""
    text = exported_html
    for _ in range(2):
        text = _JSON_ESCAPE.sub(lambda m: json.loads(f'"{m.group(0)}"'), text)
        text = html.unescape(text)
    return _squash(text)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def export_notebook(notebook: Path, warehouse: Path, tmp_path: Path) -> str:
    """Run the notebook against ``warehouse`` with ``marimo export html``; return the shown text.
    On a failed cell, fail with marimo's error summary and the script run's traceback."""
    env = _notebook_env(warehouse, tmp_path)
    out = tmp_path / f"{notebook.stem}.html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "marimo",
            "export",
            "html",
            str(notebook.resolve()),
            "-o",
            str(out),
            "--force",
            # Outputs only: an expected value must come from a cell's output, not its code.
            "--no-include-code",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=NOTEBOOK_TIMEOUT_SECONDS,
    )
    if proc.returncode != 0:
        script = _run_as_script(notebook.resolve(), env, tmp_path)
        pytest.fail(
            f"{notebook.name} failed (marimo export exit {proc.returncode}):\n"
            f"{proc.stderr[-4000:]}\n--- run as a script (exit {script.returncode}) ---\n"
            f"{script.stderr[-6000:]}"
        )
    return _shown_text(out.read_text(encoding="utf-8"))


def _one(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchall()[0][0]


def _population_overview(con: duckdb.DuckDBPyConnection, warehouse: Path) -> list[str]:
    people = _one(con, "select count(*) from core.person")
    member_months = _one(con, "select count(*) from core.member_months")
    conditions_denominator = _one(con, "select count(*) from marts.risk_features")
    return [
        f"<strong>{people:,}</strong> people in <code>core.person</code>",
        f"<strong>{member_months:,}</strong> member months",
        f"Denominator: <strong>{conditions_denominator:,}</strong> people",
    ]


def _care_gaps(con: duckdb.DuckDBPyConnection, warehouse: Path) -> list[str]:
    open_gaps = _one(con, "select count(*) from marts.measure_patient where gap_open")
    people = _one(con, "select count(distinct person_id) from marts.measure_patient where gap_open")
    return [
        f"<strong>{open_gaps:,}</strong> gaps are open across all measures, held by "
        f"<strong>{people:,}</strong> people"
    ]


def _readmissions(con: duckdb.DuckDBPyConnection, warehouse: Path) -> list[str]:
    stays, index_stays, readmitted = con.execute(
        "select count(*), count(*) filter (where is_index), "
        "count(*) filter (where is_index and readmitted_30d) "
        "from marts.readmission_index_stays"
    ).fetchall()[0]
    return [
        f"Of <strong>{stays:,}</strong> acute inpatient stays",
        f"<strong>{index_stays:,}</strong> are index stays",
        f"<strong>{readmitted:,}</strong> of them",
        f"<strong>{100 * readmitted / index_stays:.1f}%</strong>",
    ]


def _risk_model(con: duckdb.DuckDBPyConnection, warehouse: Path) -> list[str]:
    from models.registry import list_models

    version, people = con.execute(
        "select any_value(model_version), count(*) from marts.risk_scores"
    ).fetchall()[0]
    (meta,) = [m for m in list_models(warehouse) if m["version"] == version]
    auroc = meta["validation"]["overall"]["scores"]["model"]["auroc"]["value"]
    return [
        f"Version <strong><code>{version}</code></strong>",
        f"{people:,} people scored",
        f"Model AUROC <strong>{auroc:.3f}</strong>",
    ]


# What each notebook must show on the sample, computed here straight from the warehouse. A new
# notebook without an entry is still run (exit 0, no failed cell).
EXPECTED: dict[str, Callable[[duckdb.DuckDBPyConnection, Path], list[str]]] = {
    "population_overview": _population_overview,
    "care_gaps": _care_gaps,
    "readmissions": _readmissions,
    "risk_model": _risk_model,
}


def test_the_four_analyst_notebooks_exist():
    assert set(EXPECTED) <= {p.stem for p in NOTEBOOKS}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_sample_and_shows_real_values(notebook, sample_nightly, tmp_path):
    assert sample_nightly.result.success, "the nightly job failed on the sample"
    shown = export_notebook(notebook, sample_nightly.warehouse, tmp_path)
    expected = EXPECTED.get(notebook.stem)
    if expected is not None:
        with duckdb.connect(str(sample_nightly.warehouse), read_only=True) as con:
            values = expected(con, sample_nightly.warehouse)
        missing = [value for value in values if _squash(value) not in shown]
        assert not missing, f"{notebook.name} does not show {missing}"
    # marimo's output snapshot went under the temporary folder, not beside the notebook.
    assert list((tmp_path / "pycache").rglob(f"__marimo__/session/{notebook.name}.json"))


@pytest.mark.slow
def test_notebook_without_a_warehouse_fails_and_says_how_to_fix_it(tmp_path):
    env = _notebook_env(tmp_path / "absent.duckdb", tmp_path)
    proc = _run_as_script(NOTEBOOK_DIR / "population_overview.py", env, tmp_path)
    assert proc.returncode != 0
    assert "no warehouse at" in proc.stderr
    assert "make run" in proc.stderr


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_a_read_only_marimo_app(notebook):
    source = notebook.read_text(encoding="utf-8")
    assert "app = marimo.App(" in source
    assert 'if __name__ == "__main__":\n    app.run()' in source
    assert "POPCARE_WAREHOUSE" in source
    # Every connect call, arguments allowed one level of parentheses: connect(str(path), ...).
    connects = re.findall(r"duckdb\.connect\((?:[^()]|\([^()]*\))*\)", source)
    assert connects, f"{notebook.name} never opens the warehouse"
    assert all("read_only=True" in call for call in connects), connects


def _sample_person_ids() -> set[str]:
    files = [SAMPLE_DIR / name for name in ("eligibility.parquet", "patient.parquet")]
    files = [str(f) for f in files if f.is_file()]
    if not files:
        return set()
    with duckdb.connect() as con:
        rows = con.execute(
            "select distinct person_id from read_parquet($files, union_by_name = true)",
            {"files": files},
        ).fetchall()
    return {row[0] for row in rows if row[0]}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_holds_no_identifiers(notebook):
    source = notebook.read_text(encoding="utf-8")
    # Phone numbers, NPIs, SSNs, member and claim numbers are long digit runs; no notebook needs one.
    assert not re.findall(r"\d{7,}", source)
    person_ids = _sample_person_ids()
    assert person_ids, "no person ids found in data/sample"
    tokens = set(re.findall(r"[A-Za-z0-9_-]+", source))
    assert not tokens & person_ids


def _tracked(folder: Path) -> list[str] | None:
    """Files of ``folder`` in the git index, or None when git or the repository is unavailable."""
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        return None
    proc = subprocess.run(
        [git, "ls-files", "--cached", "--others", "--exclude-standard", "--", str(folder)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return None
    return [line for line in proc.stdout.splitlines() if line]


def test_notebook_folder_holds_only_notebook_sources():
    """No exported page, Jupyter notebook, output snapshot or data file is (or can be) committed:
    marimo .py notebooks and this folder's README only."""
    files = _tracked(NOTEBOOK_DIR)
    if files is None:
        files = [
            str(p.relative_to(REPO_ROOT))
            for p in NOTEBOOK_DIR.rglob("*")
            if p.is_file() and "__marimo__" not in p.parts and "__pycache__" not in p.parts
        ]
    allowed = {".py", ".md"}
    stray = [f for f in files if Path(f).suffix not in allowed and Path(f).name != ".gitignore"]
    assert not stray, f"only notebook sources belong in notebooks/: {stray}"
    ignore = (NOTEBOOK_DIR / ".gitignore").read_text(encoding="utf-8").split()
    for pattern in ("__marimo__/", "*.html", "*.ipynb"):
        assert pattern in ignore
