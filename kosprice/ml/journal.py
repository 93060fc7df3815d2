"""The lifecycle lock and the action journal: how models/ changes without ever breaking.

Crash safety: a kill -9 at any instant leaves `models/` passing startup validation, because
`models/{region}/` only ever gains or loses a version folder by one `os.rename`, and every
half-done thing has a dot-name, which the repository ignores. Each action runs in this order:

promote   1. build `models/{region}/.vX.Y.Z.promote-ID` with model.pkl + metadata.json, fsynced
          2. write the journal `models/.pending-{region}.json` (atomically): the commit point
          3. rename the dot-folder to `vX.Y.Z`: production switches here
          4. append the audit record (fsync), unless a record with this ID is already there
          5. remove the journal
rollback  1. write the journal: the commit point
          2. rename each newer folder, newest first, to `.vX.Y.Z.rollback-ID` (still in the
             region folder, so the rename is atomic; each step serves a version that served)
          3. move each hidden folder into the archive (rename, or copy + rename + delete when
             the archive is on another file system)
          4. append the audit record; 5. remove the journal
retire    the same steps as rollback, for older versions the operator names (typically ones
          that no longer load after a scikit-learn upgrade); the serving version stays

A crash before the journal exists leaves production untouched (a stale promote dot-folder is
swept later). A crash after it is rolled forward by recovery, which every action runs first
(under the lock) and `make reload` runs before validating: steps 3-5 (promote) or 2-5
(rollback, retire) are idempotent, and the audit record carries an ID, so the trail holds
exactly one record per completed action.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kosprice.errors import KospriceError, LifecycleError
from kosprice.features import REGIONS
from kosprice.ml.artifact import (
    METADATA_FILE,
    MODEL_FILE,
    fsync_dir,
    fsync_tree,
    sha256_file,
    write_json_atomically,
)
from kosprice.ml.audit import append_audit, last_audit_record, reserve_audit
from kosprice.ml.repository import ModelRepository
from kosprice.ml.signing import Signer

LOCK_FILE = ".lifecycle.lock"
PAUSE_ENV = "LIFECYCLE_PAUSE_AT"
"""Test hook: the step name at which an action prints a marker and sleeps."""
PAUSE_MARKER = "lifecycle paused at"
RECOVERED = "recovered: "
"""Prefix of the notes a refused action carries about what its recovery completed."""


def pause_point(step: str) -> None:
    """Stop here when the test hook names this step, so a test can kill the process."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"{PAUSE_MARKER} {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def folder_names(folder: Path) -> list[str]:
    """Names of the folders in `folder`, dot-names included; none when it does not exist."""
    return [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []


def move_to_archive(source: Path, target: Path) -> None:
    """Move a folder into the archive; across file systems, copy then delete the source."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # an earlier, interrupted move already put it there
        shutil.rmtree(source)
        return
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = target.with_name(f".{target.name}.archiving")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(source, tmp)
        fsync_tree(tmp)
        os.rename(tmp, target)
        fsync_dir(target.parent)
        shutil.rmtree(source)
    fsync_dir(target.parent)
    fsync_dir(source.parent)


class Journal:
    """The lock and the pending-action journals of one production models directory."""

    def __init__(self, production: ModelRepository, archive: ModelRepository,
                 audit_log: Path) -> None:
        self.production = production
        self.archive = archive
        self.audit_log = Path(audit_log)

    @property
    def models_dir(self) -> Path:
        return self.production.root

    def _path(self, region: str) -> Path:
        return self.models_dir / f".pending-{region}.json"

    def pending(self) -> list[Path]:
        """Journals of interrupted actions, which recovery (or the next action) completes."""
        if not self.models_dir.is_dir():
            return []
        return [path for path in sorted(self.models_dir.glob(".pending-*.json"))
                if path.name[len(".pending-"):-len(".json")] in REGIONS]

    @contextlib.contextmanager
    def locked(self) -> Iterator[list[str]]:
        """Hold the lifecycle lock, interrupted actions completed first; yield what was done.

        One action at a time per models directory. A KospriceError raised inside (a refused
        action) carries what the recovery did as notes starting with `recovered: `.
        """
        self.models_dir.mkdir(parents=True, exist_ok=True)
        with open(self.models_dir / LOCK_FILE, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                # Before any new action: a new journal must never replace a pending one.
                recovered = self._recover()
                try:
                    yield recovered
                except KospriceError as exc:
                    for message in recovered:
                        exc.add_note(RECOVERED + message)
                    raise
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def recover(self) -> list[str]:
        """Complete interrupted actions and sweep abandoned promote folders; say what was done."""
        with self.locked() as done:
            return done

    def stage_promotion(self, source: Path, region: str, version: str, action_id: str,
                        model_sha256: str, signer: Signer | None = None) -> Path:
        """Step 1 of a promotion: copy the model and its metadata beside production (signed
        when there is a signing key), fsynced."""
        target = self.production.version_dir(region, version)
        staging = target.parent / f".{version}.promote-{action_id}"
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name in (MODEL_FILE, METADATA_FILE):  # never holdout.csv or the report
            shutil.copy2(source / name, staging / name)
        staging.chmod(0o755)
        if sha256_file(staging / MODEL_FILE) != model_sha256:
            shutil.rmtree(staging)
            raise LifecycleError(f"copy of {region} {version} does not match its sha256")
        if signer is not None:  # signed as staged, so it is published together with its files
            signer.sign(staging, region, version)
        fsync_tree(staging)
        fsync_dir(target.parent)
        pause_point("copied")
        return staging

    def reserve(self, record: dict[str, Any], staging: Path | None = None) -> None:
        """Refuse, removing `staging`, while nothing has changed, when the audit log's file
        system is full or read-only."""
        try:
            reserve_audit(self.audit_log, record)
        except OSError as exc:
            if staging is not None:
                shutil.rmtree(staging)
            raise LifecycleError(f"the audit log {self.audit_log} cannot be written "
                                 f"({exc.strerror}): nothing was changed") from None

    def commit(self, record: dict[str, Any], staging: Path | None = None) -> dict[str, Any]:
        """Write the journal (the commit point), then carry the action through to the end."""
        self.reserve(record, staging)
        journal: dict[str, Any] = {"record": record}
        if staging is not None:
            journal["staging"] = staging.name
        write_json_atomically(self._path(record["region"]), journal)
        pause_point("journaled")
        return self._finish(record["region"])

    def _finish(self, region: str) -> dict[str, Any]:
        """Carry a journaled action through to the end; every step can be run again."""
        journal_path = self._path(region)
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
            journal["record"]["action"]
        except (ValueError, TypeError, KeyError) as exc:
            raise LifecycleError(f"journal {journal_path} is unreadable ({exc}); resolve the "
                                 "interrupted action by hand") from None
        record = journal["record"]
        folder = self.production.region_dir(region)
        if record["action"] == "promote":
            staging = folder / journal["staging"]
            target = folder / record["to_version"]
            if not target.exists():
                os.rename(staging, target)
                fsync_dir(folder)
            pause_point("renamed")
        elif record["action"] in ("rollback", "retire"):
            hidden = [(v, folder / f".{v}.{record['action']}-{record['id']}")
                      for v in record["retired"]]
            for number, (version, dot) in enumerate(hidden):
                if (folder / version).exists():
                    os.rename(folder / version, dot)
                    fsync_dir(folder)
                if number == 0:
                    pause_point("hidden")
            for number, (version, dot) in enumerate(hidden):
                if dot.exists():
                    move_to_archive(dot, self.archive.version_dir(region, version))
                if number == 0:
                    pause_point("archived")
        else:
            raise LifecycleError(f"journal {journal_path.name} holds an unknown action "
                                 f"{record['action']!r}; resolve it by hand")
        # Under the lock, a record of this action can only be the log's last one.
        if (last_audit_record(self.audit_log) or {}).get("id") != record["id"]:
            append_audit(self.audit_log, record)
        pause_point("audited")
        journal_path.unlink()
        fsync_dir(journal_path.parent)
        return record

    def _recover(self) -> list[str]:
        done = []
        for journal in self.pending():
            region = journal.name[len(".pending-"):-len(".json")]
            if region not in REGIONS:
                continue
            record = self._finish(region)
            what = (", ".join(record["retired"]) if record["action"] == "retire"
                    else f"to {record['to_version']}")
            done.append(f"completed the interrupted {record['action']} of {region} {what} "
                        f"(approved by {record['approved_by']})")
        for region in REGIONS:
            folder = self.production.region_dir(region)
            for name in folder_names(folder):
                if name.startswith(".") and ".promote-" in name:
                    shutil.rmtree(folder / name, ignore_errors=True)
                    done.append(f"removed {region}/{name}, an unfinished promotion copy")
        if self.models_dir.is_dir():
            for stale in self.models_dir.glob(".pending-*.json.*.tmp"):
                stale.unlink()
        return done
