"""Versioned model artifacts beside the warehouse that trained them.

Layout: ``<warehouse>.models/<version>/`` holds ``model.joblib`` (the ``RiskModel``),
``metadata.json`` (label, feature schema, parameters, training dates, data and code hashes,
validation metrics, registration time) and the model card with its calibration plot. A version is
``<label>-<as-of yyyymmdd>-<12 hex digits>``, the digits a SHA-256 over the code, the training data
and the parameters (``version_hash``): the same code, data and parameters give the same version.

Every warehouse trains on its own history, so its models live next to it; the newest registered
model for a label (latest ``registered_at``) is the one scoring uses. Metadata carries counts and
metrics only, never a person identifier.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from models.artifact import RiskModel

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
MODELS_DIR = Path(__file__).resolve().parent
SQL_MARTS_DIR = MODELS_DIR.parent / "sql" / "marts"


def registry_dir(warehouse: str | Path) -> Path:
    """``<warehouse>.models`` next to the DuckDB file."""
    return Path(f"{Path(warehouse).expanduser().resolve()}.models")


def code_hash() -> str:
    """SHA-256 over the risk model's code: models/*.py and *.csv, sql/marts/risk*.sql."""
    digest = hashlib.sha256()
    files = sorted(MODELS_DIR.glob("*.py")) + sorted(MODELS_DIR.glob("*.csv"))
    files += sorted(SQL_MARTS_DIR.glob("risk*.sql"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def version_hash(code: str, data: str, params: dict[str, Any]) -> str:
    payload = json.dumps(
        {"code": code, "data": data, "params": params}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def make_version(label: str, as_of: Any, digest: str) -> str:
    return f"{label}-{str(as_of).replace('-', '')}-{digest[:12]}"


def register(
    warehouse: str | Path,
    model: RiskModel,
    metadata: dict[str, Any],
    extra_files: dict[str, bytes | str] | None = None,
) -> Path:
    """Write the model, its metadata and extra files (the card) to ``<registry>/<version>/``,
    replacing an earlier registration of the same version; returns the folder."""
    home = registry_dir(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    metadata = dict(metadata)
    metadata["version"] = model.version
    metadata["label"] = model.label.name
    metadata["feature_schema"] = model.feature_schema
    metadata["registered_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=home))
    try:
        joblib.dump(model, staging / MODEL_FILE)
        (staging / METADATA_FILE).write_text(
            json.dumps(metadata, indent=1, sort_keys=True, default=str), encoding="utf-8"
        )
        for name, content in (extra_files or {}).items():
            target = staging / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        final = home / model.version
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def list_models(warehouse: str | Path, label: str | None = None) -> list[dict[str, Any]]:
    """Metadata of every registered model (optionally of one label), oldest first."""
    home = registry_dir(warehouse)
    found = []
    if not home.is_dir():
        return found
    for folder in home.iterdir():
        meta_path = folder / METADATA_FILE
        if folder.name.startswith(".") or not meta_path.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if label is None or meta.get("label") == label:
            meta["path"] = str(folder)
            found.append(meta)
    return sorted(found, key=lambda m: (m.get("registered_at", ""), m.get("version", "")))


def newest_model(warehouse: str | Path, label: str) -> tuple[RiskModel, dict[str, Any]] | None:
    """The most recently registered model for ``label`` and its metadata, or None."""
    models = list_models(warehouse, label)
    if not models:
        return None
    meta = models[-1]
    return load_model(Path(meta["path"])), meta


def load_model(folder: Path) -> RiskModel:
    model = joblib.load(folder / MODEL_FILE)
    if not isinstance(model, RiskModel):
        raise TypeError(f"{folder / MODEL_FILE} is not a popcare risk model")
    return model
