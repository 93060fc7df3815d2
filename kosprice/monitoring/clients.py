"""Who sent an anomaly, without keeping their address: a short keyed hash of it.

The anomaly monitor's recent list names each entry's client so ops can see one client
flooding it, but an address is personal data and the IPv4 space is small enough to hash in
full: the hash is keyed (HMAC-SHA256, 12 hex digits), so without the key it cannot be
reversed. The key is `KOSPRICE_CLIENT_HASH_KEY` when set (the same on every host sharing a
Redis store), else one made at random per host and kept in the state directory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from kosprice.logging import get_logger

log = get_logger("kosprice.monitoring")
KEY_FILE = "client-hash.key"


def host_key(path: Path) -> bytes:
    """The host's random key at `path`, made once (atomically, so workers starting together
    agree); a key of this process only if the directory cannot hold it (fail open)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("client hash key unreadable; using one of this process", error=str(exc))
        return secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        draft.write_bytes(secrets.token_bytes(32))
        os.chmod(draft, 0o600)
        try:
            os.link(draft, path)  # fails if another process made it first: use theirs
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        return path.read_bytes()
    except OSError as exc:
        log.warning("client hash key not stored; using one of this process", error=str(exc))
        return secrets.token_bytes(32)


class ClientHasher:
    KNOWN = 4096
    """Hashes kept per process: clients repeat (behind a proxy, a handful of addresses)."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._known: dict[str, str] = {}

    def of(self, address: str | None) -> str:
        if not address:
            return "unknown"
        found = self._known.get(address)
        if found is None:
            if len(self._known) >= self.KNOWN:
                self._known.clear()
            found = hmac.new(self.key, address.encode(), hashlib.sha256).hexdigest()[:12]
            self._known[address] = found
        return found
