"""Embedded monitoring store: one SQLite database in WAL mode under the state directory.

Every Gunicorn worker of a host opens the same file, so they all report the same numbers
without any server to run. The rings are fixed-size tables indexed by `sequence % size`, so a
record is a handful of O(1) statements in one transaction and the file never grows past
regions × (2 × window_size + anomaly_history) rows. Drift keeps each region's last
`drift_window` slot vectors (a table keyed by sequence, so a smaller window configured later
simply evicts more) and their counts by model version.

The file is created (WAL mode, tables) once per host by `migrate()`: Gunicorn's master calls
it before forking, and each process calls it again, under a lock file, before its first
statement, so workers starting together never race to create it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from kosprice.monitoring.store import (
    RINGS,
    DriftWindow,
    MonitorStore,
    Observation,
    RegionState,
    error_class,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    region TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (region, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ring (
    region TEXT NOT NULL, ring TEXT NOT NULL, slot INTEGER NOT NULL,
    seq INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (region, ring, slot)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS drift_window (
    region TEXT NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL, slots TEXT NOT NULL,
    PRIMARY KEY (region, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS drift (
    region TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (region, name)) WITHOUT ROWID;
"""
_INCREMENT = """
INSERT INTO counters (region, name, value) VALUES (?, ?, ?)
ON CONFLICT (region, name) DO UPDATE SET value = value + excluded.value
RETURNING value
"""
_SET = """
INSERT INTO counters (region, name, value) VALUES (?, ?, ?)
ON CONFLICT (region, name) DO UPDATE SET value = excluded.value
"""
_COUNT_SLOT = """
INSERT INTO drift (region, name, value) VALUES (?, ?, ?)
ON CONFLICT (region, name) DO UPDATE SET value = value + excluded.value
"""
_PUT = "INSERT OR REPLACE INTO ring (region, ring, slot, seq, payload) VALUES (?, ?, ?, ?, ?)"
_SEED_ANOMALY_SEQ = """
INSERT INTO counters (region, name, value)
SELECT region, 'anomaly_seq', value - ? FROM counters WHERE region = ? AND name = 'anomalous'
ON CONFLICT (region, name) DO NOTHING
"""
_CLIENT_HOLDS = """
SELECT count(*) FROM ring WHERE region = ? AND ring = 'anomalies' AND seq > ?
AND json_extract(payload, '$.client') = ?
"""


MIGRATION_TIMEOUT = 10.0
"""Seconds a process waits for another one that is creating the database."""


@contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing); TimeoutError after `timeout`."""
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{path} stayed locked for {timeout} s") from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SqliteStore(MonitorStore):
    kind = "sqlite"

    def __init__(self, path: Path, window_size: int, anomaly_history: int,
                 busy_timeout: float = 5.0, **limits: int) -> None:
        """No I/O here: the file is created lazily, so a failure is a store error (fail
        open) and never stops a worker from booting. `limits`: the store's optional sizes
        (`drift_window`, `recent_per_client`)."""
        super().__init__(window_size, anomaly_history, **limits)
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._writer = threading.Lock()
        self._migrated_in: int | None = None  # the pid that last ran migrate()

    def migrate(self, timeout: float = MIGRATION_TIMEOUT) -> None:
        """Create the database in WAL mode with its tables, one process at a time.

        Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is
        locked" at once, without waiting for its busy timeout, when waiting could deadlock:
        processes creating the file together must take turns on a lock file instead.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.path.with_name(self.path.name + ".lock"), timeout), \
                closing(sqlite3.connect(self.path, timeout=timeout,
                                        isolation_level=None)) as db:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode != "wal":
                    raise sqlite3.OperationalError(f"{self.path}: cannot use WAL ({mode})")
            db.executescript(_SCHEMA)
        self._migrated_in = os.getpid()

    def prepare(self) -> None:
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        if self._migrated_in != os.getpid():
            self.migrate()
        # WAL mode is a property of the file, set by migrate(); synchronous is per connection.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    @property
    def db(self) -> sqlite3.Connection:
        """One connection per thread and process (a connection must not cross a fork)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.db, local.pid = self._connect(), os.getpid()
        return local.db

    def _increment(self, region: str, name: str, by: float = 1) -> int:
        return int(self.db.execute(_INCREMENT, (region, name, by)).fetchone()[0])

    def _put(self, region: str, ring: str, seq: int, size: int, payload: str) -> None:
        self.db.execute(_PUT, (region, ring, seq % size, seq, payload))

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed, or rolled back on any error.

        A process's threads queue on a lock first: SQLite's busy handler polls, unfairly,
        so 8 threads of each worker polling for the one write lock starve some of them past
        any timeout on a loaded machine. Within `busy_timeout` in all.
        """
        deadline = time.monotonic() + self.busy_timeout
        if not self._writer.acquire(timeout=self.busy_timeout):
            raise sqlite3.OperationalError(
                f"this process's writes queued for more than {self.busy_timeout} s")
        try:
            db = self.db
            db.execute(f"PRAGMA busy_timeout = {max(deadline - time.monotonic(), 0) * 1000:.0f}")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        finally:
            self._writer.release()

    def _list_anomalies(self, region: str, client: str, records: list[str]) -> None:
        """Put one client's anomaly entries in the ring while it holds fewer than
        `recent_per_client` of the ring's entries; count the rest as unlisted. The ring has
        its own sequence (`anomaly_seq`), seeded once from `anomalous` (which numbered the
        slots before, and already counts these records)."""
        db = self.db
        db.execute(_SEED_ANOMALY_SEQ, (len(records), region))
        last = self._increment(region, "anomaly_seq", 0)
        held = db.execute(_CLIENT_HOLDS, (region, last - self.anomaly_history,
                                          client)).fetchone()[0]
        admitted = records[:max(self.recent_per_client - held, 0)]
        if len(admitted) < len(records):
            self._increment(region, "unlisted", len(records) - len(admitted))
        if not admitted:
            return
        last = self._increment(region, "anomaly_seq", len(admitted))
        db.executemany(_PUT, [
            (region, "anomalies", seq % self.anomaly_history, seq, record)
            for seq, record in enumerate(admitted, last - len(admitted) + 1)])

    @staticmethod
    def _slot_names(version: str, slots: str) -> list[str]:
        return [f"{version}|n"] + [f"{version}|{i}|{slot}"
                                   for i, slot in enumerate(slots.split(",")) if slot != "-"]

    def _record_drift(self, region: str, entries: list[tuple[str, str]]) -> None:
        """Count predictions' slots (version, slots); take off those of the predictions
        leaving the window, moving each count by its net change only (the leaving and the
        entering predictions share most slots)."""
        db = self.db
        last = self._increment(region, "drift_seq", len(entries))
        db.executemany("INSERT INTO drift_window VALUES (?, ?, ?, ?)",
                       [(region, seq, version, slots)
                        for seq, (version, slots) in enumerate(entries, last - len(entries) + 1)])
        delta: Counter[str] = Counter()
        for version, slots in entries:
            delta.update(self._slot_names(version, slots))
        leaving = db.execute("DELETE FROM drift_window WHERE region = ? AND seq <= ? "
                             "RETURNING version, slots",
                             (region, last - self.drift_window)).fetchall()
        for version, slots in leaving:
            delta.subtract(self._slot_names(version, slots))
        db.executemany(_COUNT_SLOT, [(region, name, by) for name, by in delta.items() if by])
        if leaving:
            db.execute("DELETE FROM drift WHERE region = ? AND value <= 0", (region,))

    def read_drift(self, region: str) -> DriftWindow:
        rows = self.db.execute("SELECT name, value FROM drift WHERE region = ?", (region,))
        return DriftWindow.parse(dict(rows.fetchall()))

    def record(self, observation: Observation) -> None:
        o = observation
        with self._writing() as db:
            requests = self._increment(o.region, "requests")
            if o.status >= 400:
                self._increment(o.region, "errors")
                self._increment(o.region, error_class(o.status))
            self._put(o.region, "latency", requests, self.window_size,
                      f"{o.latency_ms!r}|{o.status}")
            if not o.prices:
                return
            count = self._increment(o.region, "predictions", len(o.prices))
            self._increment(o.region, f"v:{o.model_version}", len(o.prices))
            db.execute(_SET, (o.region, "last", o.timestamp))
            db.executemany(_PUT, [
                (o.region, "window", seq % self.window_size, seq, f"{price!r}|{o.model_version}")
                for seq, price in enumerate(o.prices, count - len(o.prices) + 1)])
            drift = [(o.model_version, slots) for slots in o.drift if slots]
            if drift:
                self._record_drift(o.region, drift)
            anomalous = o.anomalous()
            if anomalous:
                self._increment(o.region, "anomalous", len(anomalous))
                for kind, count_of_kind in Counter(
                        k for i in anomalous for k in o.anomalies[i]).items():
                    self._increment(o.region, f"a:{kind}", count_of_kind)
                self._list_anomalies(o.region, o.client,
                                     [o.anomaly_record(index) for index in anomalous])

    def read(self, region: str, rings: Collection[str] = RINGS) -> RegionState:
        db = self.db
        db.execute("BEGIN")  # one snapshot for all the reads below
        try:
            counters = dict(db.execute(
                "SELECT name, value FROM counters WHERE region = ?", (region,)).fetchall())
            rows = db.execute(
                "SELECT ring, seq, payload FROM ring WHERE region = ? AND ring IN "
                f"({', '.join('?' * len(rings))}) ORDER BY ring, seq",
                (region, *rings)).fetchall()
        finally:
            db.execute("COMMIT")
        # A ring keeps the last `size` entries of its counter; slots left over from a
        # larger size configured earlier hold older entries and are skipped.
        limits = {"window": ("predictions", self.window_size),
                  "latency": ("requests", self.window_size),
                  "anomalies": ("anomaly_seq", self.anomaly_history)}
        counters.setdefault("anomaly_seq", counters.get("anomalous", 0))
        kept: dict[str, list[str]] = {ring: [] for ring in RINGS}
        for ring, seq, payload in rows:
            counter, size = limits[ring]
            if seq > counters.get(counter, 0) - size:
                kept[ring].append(payload)
        return RegionState.parse(counters, kept["window"], kept["latency"],
                                 kept["anomalies"][::-1])

    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()
