"""Log rotation with several writer processes: the files rotate and no line is lost."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

from kosprice.logging import rotate_if_large

MAX_BYTES = 16_000
ROTATIONS = 6


def write_until_stopped(log_dir: Path, writer: int, written, stop) -> None:
    """A worker process: log numbered lines (every 5th an error) until told to stop."""
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the process's whole life
    from kosprice.logging import configure, get_logger

    configure("INFO", log_dir)
    log = get_logger("kosprice.test")
    n = 0
    while not stop.is_set():
        (log.error if n % 5 == 0 else log.info)("numbered", writer=writer, n=n)
        n += 1
        written.value = n


def numbered_lines(log_dir: Path, name: str) -> list[tuple[int, int]]:
    lines = []
    for path in log_dir.glob(f"{name}*"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)  # a torn line would fail here
            if record.get("event") == "numbered":
                lines.append((record["writer"], record["n"]))
    return lines


def test_rotation_under_two_writer_processes_loses_no_line(tmp_path):
    log_dir = tmp_path / "logs"
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    written = [context.Value("q", 0) for _ in range(2)]
    writers = [context.Process(target=write_until_stopped, args=(log_dir, w, written[w], stop))
               for w in range(2)]
    for writer in writers:
        writer.start()
    try:
        # Count only rotations during which both processes were writing: forced, not hoped for.
        rotations, seen, deadline = 0, [0, 0], time.monotonic() + 120
        while rotations < ROTATIONS and time.monotonic() < deadline:
            if "kosprice.log" in rotate_if_large(log_dir, MAX_BYTES, backups=1000):
                now = [value.value for value in written]
                if all(after > before for after, before in zip(now, seen, strict=True)):
                    rotations += 1
                seen = now
            time.sleep(0.005)
    finally:
        stop.set()
        for writer in writers:
            writer.join(timeout=30)
    assert rotations == ROTATIONS, f"only {rotations} rotations with both writers active"
    assert all(writer.exitcode == 0 for writer in writers)
    assert (log_dir / f"kosprice.log.{ROTATIONS}").exists()

    counts = [value.value for value in written]
    lines = numbered_lines(log_dir, "kosprice.log")
    assert len(lines) == len(set(lines)) == sum(counts)
    assert set(lines) == {(w, n) for w in range(2) for n in range(counts[w])}
    errors = numbered_lines(log_dir, "error.log")
    assert sorted(errors) == [(w, n) for w in range(2) for n in range(0, counts[w], 5)]


def test_small_files_and_missing_files_are_left_alone(tmp_path):
    assert rotate_if_large(tmp_path, MAX_BYTES, backups=2) == []
    (tmp_path / "kosprice.log").write_text("x" * 10, encoding="utf-8")
    assert rotate_if_large(tmp_path, MAX_BYTES, backups=2) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kosprice.log"]


def test_backups_beyond_the_limit_are_deleted(tmp_path):
    for generation in range(4):
        (tmp_path / "kosprice.log").write_text(f"{generation}\n" * MAX_BYTES, encoding="utf-8")
        assert rotate_if_large(tmp_path, MAX_BYTES, backups=2) == ["kosprice.log"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kosprice.log.1", "kosprice.log.2"]
    assert (tmp_path / "kosprice.log.1").read_text(encoding="utf-8").startswith("3\n")
