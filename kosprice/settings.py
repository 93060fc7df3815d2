"""One typed settings object, read from `KOSPRICE_*` environment variables.

Every setting is declared once in `Settings` below, with its variable, default and meaning;
`.env.example` and the README's table list the same fields (tests/unit/test_settings.py
checks both). An invalid value stops startup with a message naming the variable.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kosprice.errors import ConfigurationError
from kosprice.features import REGIONS

PREFIX = "KOSPRICE_"
SERVING_MANIFEST_FILE = "serving.json"
"""The serving manifest's name in the state directory, unless KOSPRICE_SERVING_MANIFEST."""


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or a positive integer")
    return value


def _path(raw: str) -> Path:
    # An empty value would silently mean the current directory.
    if not raw:
        raise ValueError("must not be empty")
    return Path(raw)


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw else None


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
    return level


def _optional_url(raw: str) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


REDIS_MODES = ("single", "cluster", "sentinel")


def _redis_mode(raw: str) -> str:
    mode = raw.lower()
    if mode not in REDIS_MODES:
        raise ValueError("must be one of " + ", ".join(REDIS_MODES))
    return mode


def _addresses(raw: str) -> tuple[tuple[str, int], ...]:
    """Parse `host:port,host:port` (IPv6 hosts in brackets: `[::1]:6379`)."""
    addresses = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        host, sep, port = item.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{item!r} is not host:port")
        addresses.append((host, int(port)))
    return tuple(addresses)


def _optional_str(raw: str) -> str | None:
    return raw or None


def _redis_problems(values: Mapping[str, Any]) -> list[str]:
    """The Redis settings must name one way to reach the store, completely."""
    mode = values.get("redis_mode", "single")
    nodes, master = values.get("redis_nodes", ()), values.get("redis_master")
    problems = []
    if mode != "single" and values.get("redis_url"):
        problems.append(f"{PREFIX}REDIS_URL: only for KOSPRICE_REDIS_MODE=single "
                        f"({mode} reads {PREFIX}REDIS_NODES)")
    if mode != "single" and not nodes:
        what = "cluster nodes" if mode == "cluster" else "sentinels"
        problems.append(f"{PREFIX}REDIS_NODES: KOSPRICE_REDIS_MODE={mode} needs the {what}")
    if mode == "single" and nodes:
        problems.append(f"{PREFIX}REDIS_NODES: only for KOSPRICE_REDIS_MODE=cluster or sentinel")
    if (mode == "sentinel") != bool(master):
        problems.append(f"{PREFIX}REDIS_MASTER: " + ("KOSPRICE_REDIS_MODE=sentinel needs the "
                                                     "primary's name" if mode == "sentinel"
                                                     else "only for KOSPRICE_REDIS_MODE=sentinel"))
    return problems


def _price_limits(raw: str) -> dict[str, tuple[float, float]]:
    """Parse `{"region": [floor, ceiling], ...}`."""
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError('must be a JSON object like {"yogyakarta": [200000, 9000000]}')
    limits = {}
    for region, pair in data.items():
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}")
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in pair)
                or not 0 <= pair[0] < pair[1]):
            raise ValueError(f"{region}: expected [floor, ceiling] with 0 <= floor < ceiling")
        limits[region] = (float(pair[0]), float(pair[1]))
    return limits


def _optional_secret(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters (or empty: no token)")
    return raw


def _signing_key(raw: str) -> str | None:
    if raw and len(raw) < 32:
        raise ValueError("must be at least 32 characters (or empty: no signing)")
    return raw or None


def _origins(raw: str) -> tuple[str, ...]:
    """Parse comma-separated origins such as `https://app.example.com,http://localhost:3000`."""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host:
            raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
    return origins


def _rate_limit(raw: str) -> str | None:
    """Check a limit such as `120/minute;2000/hour` (limits' notation); empty: no limit."""
    if not raw:
        return None
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ValueError("must look like 120/minute or 10/second;1000/hour") from None
    return raw


def setting(env: str, default: Any, parse: Callable[[str], Any], doc: str,
            secret: bool = False) -> Any:
    metadata = {"env": PREFIX + env, "parse": parse, "doc": doc, "default": default}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata, repr=not secret)


@dataclass(frozen=True)
class Settings:
    models_dir: Path = setting("MODELS_DIR", Path("models"), _path,
                               "Production model versions: {region}/vX.Y.Z/")
    candidates_dir: Path = setting("CANDIDATES_DIR", Path("candidates"), _path,
                                   "Where `kosprice train` writes candidate versions")
    archive_dir: Path = setting("ARCHIVE_DIR", Path("archive"), _path,
                                "Where rollback and retire move versions (nothing is deleted)")
    data_dir: Path = setting(
        "DATA_DIR", Path("../shared/data/kos"), _path,
        "Listings folder ({region}.csv) the evaluation sets' rows are read from by train, "
        "compare and promote (never by the service); `make train` reads it too")
    audit_log: Path = setting("AUDIT_LOG", Path("models/audit.jsonl"), _path,
                              "Append-only JSON Lines trail of promotions, rollbacks, retirements "
                              "(default: audit.jsonl in the models directory)")
    serving_manifest: Path | None = setting(
        "SERVING_MANIFEST", None, _optional_path,
        "Load exactly the versions pinned here; the Gunicorn master writes it after validating "
        "(under Gunicorn, default: serving.json in the state directory)")
    log_dir: Path = setting("LOG_DIR", Path("logs"), _path,
                            "Directory for kosprice.log and error.log")
    log_level: str = setting("LOG_LEVEL", "INFO", _log_level, "Minimum level logged")
    log_max_bytes: int = setting(
        "LOG_MAX_BYTES", 50 * 1024 * 1024, _non_negative_int,
        "Under Gunicorn, the master rotates kosprice.log and error.log past this size, bytes "
        "(0: never, e.g. with an external logrotate)")
    log_backups: int = setting("LOG_BACKUPS", 5, _positive_int,
                               "Rotated log files kept per log (.1 newest); older ones are deleted")
    workers: int = setting("WORKERS", 0, _non_negative_int,
                           "Gunicorn workers; 0 picks one per usable CPU, at least 2")
    max_content_length: int = setting("MAX_CONTENT_LENGTH", 16 * 1024, _positive_int,
                                      "Largest accepted request body, bytes (larger: 413)")
    batch_max_items: int = setting("BATCH_MAX_ITEMS", 1000, _positive_int,
                                   "Most listings in one POST /predict/{region}/batch (more: 413)")
    batch_max_content_length: int = setting(
        "BATCH_MAX_CONTENT_LENGTH", 1024 * 1024, _positive_int,
        "Largest accepted batch request body, bytes (larger: 413)")
    redis_url: str | None = setting("REDIS_URL", None, _optional_url,
                                    "Monitoring store; unset: the embedded SQLite store")
    redis_mode: str = setting("REDIS_MODE", "single", _redis_mode,
                              "single (REDIS_URL), cluster or sentinel (REDIS_NODES)")
    redis_nodes: tuple = setting("REDIS_NODES", (), _addresses,
                                 "host:port,...: cluster startup nodes, or the sentinels")
    redis_master: str | None = setting("REDIS_MASTER", None, _optional_str,
                                       "Sentinel mode: the monitored primary's name")
    redis_password: str | None = setting("REDIS_PASSWORD", None, _optional_str,
                                         "Password of the Redis servers (not the sentinels); "
                                         "a password in REDIS_URL wins", secret=True)
    state_dir: Path = setting("STATE_DIR", Path("state"), _path,
                              "Embedded store's directory (used when REDIS_URL is unset)")
    store_prefix: str = setting("STORE_PREFIX", "kosprice", str, "Key prefix in the store")
    window_size: int = setting("WINDOW_SIZE", 10_000, _positive_int,
                               "Predictions kept per region for the rolling monitors")
    anomaly_history: int = setting("ANOMALY_HISTORY", 50, _positive_int,
                                   "Most recent anomalies kept per region")
    anomaly_recent_per_client: int = setting(
        "ANOMALY_RECENT_PER_CLIENT", 5, _positive_int,
        "Most entries one client holds in the recent anomalies (all are still counted)")
    client_hash_key: str | None = setting(
        "CLIENT_HASH_KEY", None, _optional_secret,
        "Key (16+ characters) of the client hash in the recent anomalies; set the same on "
        "every host sharing a store (unset: a random key per host in STATE_DIR)", secret=True)
    drift_window: int = setting("DRIFT_WINDOW", 2_000, _positive_int,
                                "Latest predictions per region the drift monitor compares")
    drift_min_sample: int = setting("DRIFT_MIN_SAMPLE", 500, _positive_int,
                                    "Predictions of the serving version in the drift window "
                                    "before PSI is reported (at most DRIFT_WINDOW)")
    store_timeout: float = setting("STORE_TIMEOUT", 0.1, _positive_float,
                                   "Seconds before a store call is abandoned (fail open)")
    sqlite_write_wait: float = setting(
        "SQLITE_WRITE_WAIT", 1.0, _positive_float,
        "Embedded store: seconds a record waits for the other workers' writes before it is "
        "dropped (fail open)")
    store_retry_after: float = setting("STORE_RETRY_AFTER", 5.0, _positive_float,
                                       "Seconds to stop calling the store after a failure")
    price_limits: dict = setting("PRICE_LIMITS", {}, _price_limits,
                                 'Hard anomaly thresholds, JSON {"region": [floor, ceiling]}')
    ops_token: str | None = setting(
        "OPS_TOKEN", None, _optional_secret,
        "When set (16+ characters): /models*, the monitors and /metrics require "
        "`Authorization: Bearer <token>`", secret=True)
    signing_key: str | None = setting(
        "SIGNING_KEY", None, _signing_key,
        "When set (32+ characters): promote signs versions (HMAC-SHA256) and startup and "
        "reload refuse unsigned or wrongly signed ones", secret=True)
    signing_key_file: Path | None = setting(
        "SIGNING_KEY_FILE", None, _optional_path,
        "A file holding the signing key instead (e.g. a mounted secret)")
    cors_origins: tuple = setting(
        "CORS_ORIGINS", (), _origins,
        "Comma-separated origins whose web pages may call the API (CORS); none by default")
    rate_limit: str | None = setting(
        "RATE_LIMIT", None, _rate_limit,
        "Per-client limit on the prediction routes, e.g. 120/minute;2000/hour (429 over it); "
        "unset: no limit")
    trusted_proxies: int = setting(
        "TRUSTED_PROXIES", 0, _non_negative_int,
        "Proxies in front whose X-Forwarded-For entries name the client (0: the header is "
        "ignored)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from the environment; report every invalid variable at once."""
        environ = os.environ if environ is None else environ
        values, problems = {}, []
        for f in fields(cls):
            env = f.metadata["env"]
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif env in environ:
                try:
                    values[f.name] = f.metadata["parse"](environ[env].strip())
                except (ValueError, TypeError) as exc:
                    shown = repr(environ[env]) if f.repr else "<secret>"  # never echo one
                    problems.append(f"{env}={shown}: {exc}")
        unknown = sorted(k for k in environ if k.startswith(PREFIX)
                         and k not in {f.metadata["env"] for f in fields(cls)})
        problems += [f"{name}: unknown setting" for name in unknown]
        problems += [f"{name}: unknown setting (override)"
                     for name in sorted(set(overrides) - {f.name for f in fields(cls)})]
        problems += _redis_problems(values)
        if (values.get("drift_min_sample", cls.drift_min_sample)
                > values.get("drift_window", cls.drift_window)):
            problems.append(f"{PREFIX}DRIFT_MIN_SAMPLE: must not exceed {PREFIX}DRIFT_WINDOW, "
                            "or drift would never be reported")
        if problems:
            raise ConfigurationError("invalid settings: " + "; ".join(problems))
        # The audit trail lives beside the models it describes unless placed elsewhere.
        values.setdefault("audit_log", Path(values.get("models_dir", cls.models_dir),
                                            "audit.jsonl"))
        return cls(**values)

    @property
    def serving_manifest_path(self) -> Path:
        """Where the Gunicorn master pins the versions it validated, and `kosprice versions`
        reads them: KOSPRICE_SERVING_MANIFEST, else serving.json in the state directory."""
        return self.serving_manifest or Path(self.state_dir, SERVING_MANIFEST_FILE)

    @property
    def uses_redis(self) -> bool:
        """Whether monitoring goes to Redis (else the embedded SQLite store)."""
        return self.redis_mode != "single" or self.redis_url is not None

    @classmethod
    def documentation(cls) -> list[tuple[str, str, str]]:
        """Return (variable, default as the variable's text, meaning) for every setting.

        An empty default means unset; `.env.example` lists exactly these rows.
        """
        return [(f.metadata["env"], _as_variable(f.metadata["default"]), f.metadata["doc"])
                for f in fields(cls)]


def _as_variable(default: Any) -> str:
    """A default written as the variable's value: empty for none (None, {}, ())."""
    return "" if default is None or default in ({}, ()) else str(default)
