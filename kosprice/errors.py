"""Error types shared by every layer; each knows the HTTP status it maps to.

This module sits at the bottom of the import graph: it imports nothing from kosprice.
"""

from __future__ import annotations

from typing import Any


class KospriceError(Exception):
    """Base of every error kosprice raises on purpose."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigurationError(KospriceError):
    """A setting is missing or invalid; raised before the service starts."""

    code = "configuration_error"


class DataError(KospriceError):
    """A training CSV cannot be used (missing columns, bad values, too few rows)."""

    status = 422
    code = "invalid_data"


class IntegrityError(KospriceError):
    """One or more model artifacts failed validation; the service must not start."""

    code = "integrity_error"

    def __init__(self, problems: list[Any]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} model integrity problem(s):\n{lines}")


class UnknownRegionError(KospriceError):
    status = 404
    code = "unknown_region"


class LifecycleError(KospriceError):
    """A promote, rollback or compare request was refused."""

    status = 409
    code = "lifecycle_refused"


class BatchTooLargeError(KospriceError):
    """A batch holds more listings than KOSPRICE_BATCH_MAX_ITEMS."""

    status = 413
    code = "batch_too_large"


class StoreUnavailableError(KospriceError):
    """The monitoring store cannot be reached right now."""

    status = 503
    code = "monitor_store_unavailable"
