"""Optional artifact signatures: HMAC-SHA256 over a version's metadata and model files.

The sha256 in metadata.json proves the pickle is the one the metadata describes, but both
files could be replaced together. With a signing key (KOSPRICE_SIGNING_KEY or
KOSPRICE_SIGNING_KEY_FILE) `promote` and `kosprice sign` write `signature.json` beside them,
and startup, reload and the lifecycle refuse a production version whose signature is missing
or does not match, before anything is unpickled. The key never leaves the service: the
signature names the key only by a fingerprint, so a version signed with another key is
reported as such.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kosprice.errors import ConfigurationError
from kosprice.ml.artifact import METADATA_FILE, MODEL_FILE, sha256_file, write_json_atomically
from kosprice.settings import Settings

SIGNATURE_FILE = "signature.json"
ALGORITHM = "HMAC-SHA256"
MIN_KEY_LENGTH = 32


def signed_message(region: str, version: str, metadata_sha256: str, model_sha256: str) -> bytes:
    """What is signed: the version's identity and the digests of both of its files."""
    return "\n".join(("kosprice-artifact-v1", region, version, metadata_sha256,
                      model_sha256)).encode()


@dataclass(frozen=True)
class Signer:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_LENGTH:
            raise ConfigurationError(f"the signing key must be at least {MIN_KEY_LENGTH} bytes")

    def __repr__(self) -> str:  # never print the key
        return f"Signer(key_id={self.key_id!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer | None:
        """The configured signer, or None when signatures are not required."""
        if settings.signing_key and settings.signing_key_file:
            raise ConfigurationError("set KOSPRICE_SIGNING_KEY or KOSPRICE_SIGNING_KEY_FILE, "
                                     "not both")
        if settings.signing_key:
            return cls(settings.signing_key.encode())
        if settings.signing_key_file:
            try:
                key = Path(settings.signing_key_file).read_bytes().strip()
            except OSError as exc:
                raise ConfigurationError(f"KOSPRICE_SIGNING_KEY_FILE: cannot read "
                                         f"{settings.signing_key_file} ({exc.strerror})") from None
            return cls(key)
        return None

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key without revealing it."""
        return hashlib.sha256(b"kosprice-key-id\n" + self.key).hexdigest()[:16]

    def _signature(self, folder: Path, region: str, version: str) -> str:
        message = signed_message(region, version, sha256_file(folder / METADATA_FILE),
                                 sha256_file(folder / MODEL_FILE))
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def sign(self, folder: Path, region: str, version: str | None = None) -> None:
        """Write the signature of a version folder (named `version` once published)."""
        write_json_atomically(folder / SIGNATURE_FILE, {
            "algorithm": ALGORITHM, "key_id": self.key_id,
            "signed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "signature": self._signature(folder, region, version or folder.name)})

    def problem(self, folder: Path, region: str) -> str | None:
        """Why the folder's signature is not valid under this key; None when it is."""
        path = folder / SIGNATURE_FILE
        if not path.is_file():
            return "unsigned (a signing key is configured: sign it with `kosprice sign`)"
        try:
            signature = json.loads(path.read_text(encoding="utf-8"))
            recorded = signature["signature"]
            key_id = signature.get("key_id")
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
            return "unreadable signature"
        if not isinstance(recorded, str):
            return "unreadable signature"
        if key_id != self.key_id:
            return f"signed with another key ({key_id!r}, this service's is {self.key_id!r})"
        try:
            expected = self._signature(folder, region, folder.name)
        except OSError as exc:
            return f"cannot be read to check its signature ({exc.strerror})"
        if not hmac.compare_digest(recorded, expected):
            return "signature does not match: model.pkl or metadata.json changed after signing"
        return None
