"""Error types shared by every layer; each knows the HTTP status it maps to.

This module sits at the bottom of the import graph: it imports nothing from kosprice.
A subclass names its status and error code in its class line:
`class DataError(KospriceError, status=422, code="invalid_data")`.
"""

from __future__ import annotations

from typing import Any


class KospriceError(Exception):
    """Base of every error kosprice raises on purpose."""

    status = 500
    code = "internal_error"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ConfigurationError(KospriceError, code="configuration_error"):
    """A setting is missing or invalid; raised before the service starts."""


class DataError(KospriceError, status=422, code="invalid_data"):
    """A training CSV cannot be used (missing columns, bad values, too few rows)."""


class IntegrityError(KospriceError, code="integrity_error"):
    """One or more model artifacts failed validation; the service must not start."""

    def __init__(self, problems: list[Any]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{len(self.problems)} model integrity problem(s):\n{lines}")


class UnknownRegionError(KospriceError, status=404, code="unknown_region"):
    """A request names a region kosprice does not serve."""


class LifecycleError(KospriceError, status=409, code="lifecycle_refused"):
    """A promote, rollback or compare request was refused."""


class BatchTooLargeError(KospriceError, status=413, code="batch_too_large"):
    """A batch holds more listings than KOSPRICE_BATCH_MAX_ITEMS."""


class StoreUnavailableError(KospriceError, status=503, code="monitor_store_unavailable"):
    """The monitoring store cannot be reached right now."""
