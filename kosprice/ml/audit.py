"""The audit trail: an append-only JSON Lines log of promotions, rollbacks and retirements.

Lines are only ever appended and fsynced, never rewritten; a line torn by a power cut is
skipped when read, and the next append starts on a fresh line.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from kosprice.ml.artifact import fsync_dir


def append_audit(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line and fsync it; the log is never rewritten."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    line = json.dumps(record, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:  # a line torn by a power cut must not swallow this record
            with open(path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    line = "\n" + line
        data = line.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


_CANNOT_WRITE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                 errno.EFBIG}


def reserve_audit(path: Path, record: dict[str, Any]) -> None:
    """Fail before anything changes when the audit log cannot take `record`.

    Space for the line is allocated and released again: a full or read-only file system
    is found here, while nothing has been changed yet, instead of after the action.
    Raises OSError for such a file system; file systems that cannot preallocate are not
    checked (the journal still completes the action once its record can be written).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    length = len(json.dumps(record, ensure_ascii=False).encode("utf-8")) + 2
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            os.posix_fallocate(fd, size, length)
        except OSError as exc:
            if exc.errno in _CANNOT_WRITE:
                raise
            return
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def read_audit(path: Path, region: str | None = None) -> list[dict[str, Any]]:
    """Return the audit records, oldest first; a torn (unparseable) line is skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and (region is None or record.get("region") == region):
            records.append(record)
    return records


HISTORY_FIELDS = ("at", "action", "from_version", "to_version", "approved_by", "reason",
                  "forced", "metrics", "model_sha256", "retired", "signed", "key_id")


def promotion_history(audit_log: Path, region: str) -> list[dict[str, Any]]:
    """The public promote/rollback/retire/sign history of a region, newest first."""
    return [{k: r[k] for k in HISTORY_FIELDS if k in r}
            for r in reversed(read_audit(audit_log, region))]


def last_audit_record(path: Path) -> dict[str, Any] | None:
    """The log's last record, read from the end; None when empty or the last line is torn."""
    try:
        with open(path, "rb") as handle:
            position = handle.seek(0, os.SEEK_END)
            tail = b""
            while position > 0 and tail.rstrip(b"\n").count(b"\n") == 0:
                step = min(4096, position)
                position -= step
                handle.seek(position)
                tail = handle.read(step) + tail
    except FileNotFoundError:
        return None
    line = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
