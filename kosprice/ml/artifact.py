"""One model version on disk: `{model.pkl, metadata.json}`, written atomically, hashed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import joblib

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
REQUIRED_METADATA = (
    "region", "model_version", "model_type", "params", "metrics", "features", "trained_at",
    "sklearn_version", "python_version", "model_sha256", "training_data",
)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_metadata(version_dir: Path) -> dict[str, Any]:
    with open(version_dir / METADATA_FILE, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError("metadata.json must hold a JSON object")
    return data


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    path.write_text(json.dumps(metadata, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Flush a folder's files and its entries, before the rename that publishes it."""
    for child in folder.iterdir():
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON so that readers, and a crash, see the old file or the new one, whole."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_folder(target: Path, build: Callable[[Path], None]) -> Path:
    """Build a folder with `build(tmp_dir)` beside `target`, then rename it into place.

    A crash at any moment leaves either no `target` or a complete one; the half-built
    temporary folder (a dot-name, ignored by the repository) is removed on failure.
    An existing `target` is never replaced: FileExistsError.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; models are read by the service user
        fsync_tree(tmp)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(target.parent)
    return target


def save_version(target: Path, model: Any, metadata: dict[str, Any],
                 extra_files: Iterable[tuple[str, bytes]] = ()) -> Path:
    """Write model.pkl, then metadata.json with the pickle's sha256, atomically."""

    def build(tmp: Path) -> None:
        joblib.dump(model, tmp / MODEL_FILE)
        metadata["model_sha256"] = sha256_file(tmp / MODEL_FILE)
        write_metadata(tmp / METADATA_FILE, metadata)
        for name, content in extra_files:
            (tmp / name).write_bytes(content)

    return atomic_folder(target, build)
