"""Workers that create the embedded store on a fresh directory together never race.

Switching a new SQLite file to WAL mode needs an exclusive lock, and SQLite answers
"database is locked" at once (no busy wait) when waiting could deadlock: before the store
created its file under a lock, 4 processes doing this at once on a loaded machine failed a
few times in a hundred.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from contextlib import closing

from kosprice.monitoring import build_store
from kosprice.settings import Settings
from tests.servers import cpu_hog

PROCESSES = 4
REPETITIONS = 200


def start_workers(barrier, tmp_path, results) -> None:
    """What a worker does with the store at boot, once per fresh directory, at the same
    moment as the other processes (the barrier): build it, ping it, read through it.

    (Writers together: test_sqlite_contention.)"""
    for attempt in range(REPETITIONS):
        # The real per-call busy timeout (0.1 s), on a fresh directory every time.
        settings = Settings.from_env({}, state_dir=tmp_path / f"state-{attempt}")
        barrier.wait(timeout=60)
        try:
            store = build_store(settings)
            store.ping()
            assert store.read("yogyakarta").requests == 0
            results.put(None)
        except Exception as exc:  # noqa: BLE001 - the parent reports every failure
            results.put(f"{type(exc).__name__}: {exc}")


def test_workers_creating_the_store_together_never_race(tmp_path):
    context = multiprocessing.get_context("fork")  # as Gunicorn starts its workers
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [context.Process(target=start_workers, args=(barrier, tmp_path, results))
                 for _ in range(PROCESSES)]
    with cpu_hog():
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=60) for _ in range(PROCESSES * REPETITIONS)]
        for process in processes:
            process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    failures = [outcome for outcome in outcomes if outcome]
    assert failures == [], f"{len(failures)} of {len(outcomes)} processes failed"
    for attempt in range(REPETITIONS):
        with closing(sqlite3.connect(tmp_path / f"state-{attempt}" / "monitor.sqlite3")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_store_is_created_before_the_first_statement(tmp_path):
    """Building a store does no I/O: a failure to create it is a store error (fail open)."""
    path = tmp_path / "state" / "monitor.sqlite3"
    store = build_store(Settings.from_env({}, state_dir=path.parent))
    assert not path.parent.exists()
    store.prepare()  # what Gunicorn's master does before forking
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {name for (name,) in db.execute("SELECT name FROM sqlite_master")} >= {
        "counters", "ring"}
