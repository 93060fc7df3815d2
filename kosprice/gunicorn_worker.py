"""Gunicorn's threaded worker, bounded against idle and slow clients (Gunicorn only loads it).

A gthread worker's event loop accepts connections and hands each to a thread, which reads the
request with a blocking socket and no time limit: a client that sends headers and one byte
of its body holds that thread for ever, and Gunicorn's own wait for a silent new connection
holds a thread for 5 s. Here:

- a new connection that has sent nothing after FIRST_BYTES_WAIT goes back to the event loop
  (which closes it after `keepalive` seconds of silence) instead of holding a thread;
- reading a request (headers and body) must end within READ_TIMEOUT of the moment a thread
  takes it up; a later read fails, so the client gets 400 (a stalled body) or is
  disconnected (stalled headers), and the thread is free again.

In production a buffering proxy (nginx, see docker-compose.yml) in front receives whole
requests before Gunicorn sees them; these bounds protect a worker reached directly.
"""

from __future__ import annotations

import time

from gunicorn.http.errors import NoMoreData
from gunicorn.workers import gthread

FIRST_BYTES_WAIT = 0.5
"""Seconds a thread waits for a new connection's first bytes before handing it back."""
READ_TIMEOUT = 10.0
"""Seconds a thread may spend reading one request (headers and body)."""


class ReadDeadlinePassed(NoMoreData):
    """The client did not send its request within READ_TIMEOUT (Gunicorn closes quietly)."""

    def __str__(self) -> str:
        return f"request not received within {READ_TIMEOUT} s"


class DeadlineSocket:
    """A client socket whose reads fail once `deadline` has passed; all else goes through."""

    def __init__(self, sock, log) -> None:
        self._sock = sock
        self._log = log
        self.deadline: float | None = None

    def recv(self, size: int, *flags: int) -> bytes:
        if self.deadline is None:
            return self._sock.recv(size, *flags)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._log.warning("slow client: request not received in time; closing",
                              extra={"read_timeout_s": READ_TIMEOUT})
            raise ReadDeadlinePassed()
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            self._log.warning("slow client: request not received in time; closing",
                              extra={"read_timeout_s": READ_TIMEOUT})
            raise ReadDeadlinePassed() from None
        finally:
            self._sock.settimeout(previous)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class ThreadWorker(gthread.ThreadWorker):
    """gthread with a first-bytes wait and a read deadline per request (see the module)."""

    def handle(self, conn):
        if not conn.initialized and not conn.data_ready \
                and not conn.wait_for_data(FIRST_BYTES_WAIT):
            return gthread._DEFER  # silent so far: wait in the event loop, not in a thread
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock, self.log)
        conn.sock.deadline = time.monotonic() + READ_TIMEOUT
        try:
            return super().handle(conn)
        finally:
            conn.sock.deadline = None  # writing the response and keep-alive are not bounded
