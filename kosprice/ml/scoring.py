"""Price a CSV of listings through the served model's fast path, row by row checked.

Each priced row gets what the HTTP answer says of the listing (`pricing.price_listing`): the
price rounded to Rp 1,000 and kept within the training prices, the default interval's
`price_low`/`price_high`, and the codes of its `warnings` (space-separated).

Each data row is checked against the feature catalogue (the same bounds and choices the API
enforces); a row that fails is kept in the output with its reason and no price, and is
reported with its CSV line number. The output is written to a temporary file beside the
target and renamed into place, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kosprice.errors import DataError
from kosprice.features import FEATURES, derive
from kosprice.ml import predictor
from kosprice.ml.pricing import price_listing
from kosprice.ml.repository import LoadedModel

CHUNK = 1000
"""Rows priced per call of the model."""

PRICE_COLUMN, ERROR_COLUMN = "predicted_price", "rejected_reason"
RANGE_COLUMNS, WARNINGS_COLUMN = ("price_low", "price_high"), "warnings"
ADDED_COLUMNS = (PRICE_COLUMN, *RANGE_COLUMNS, WARNINGS_COLUMN, ERROR_COLUMN)


@dataclass
class ScoringReport:
    rows: int = 0
    priced: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    """(CSV line number, reason) of each rejected row."""


def parse_value(name: str, text: str | None) -> object:
    """The value of a CSV cell for feature `name`; raise ValueError with the reason."""
    feature = FEATURES[name]
    if feature.kind == "text":  # optional: an empty cell is a listing without a title
        if not feature.accepts(text or ""):
            raise ValueError(f"{name}: longer than {feature.maximum:g} characters")
        return text or ""
    text = (text or "").strip()
    if not text:
        raise ValueError(f"{name}: missing")
    if feature.kind == "category":
        if text not in feature.choices:
            raise ValueError(f"{name}: {text!r} is not one of {', '.join(feature.choices)}")
        return text
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number") from None
    if feature.kind == "flag":
        if number not in (0.0, 1.0):
            raise ValueError(f"{name}: {text!r} must be 0 or 1")
        return int(number)
    if not math.isfinite(number) or not feature.accepts(number):
        low = ">" if feature.exclusive_minimum else ">="
        raise ValueError(f"{name}: {text} is outside the bounds "
                         f"({low} {feature.minimum:g} and <= {feature.maximum:g})")
    return number


def parse_row(row: dict[str, str], inputs: list[str]) -> dict[str, object]:
    """The listing of a CSV row; raise ValueError naming every problem."""
    listing, problems = {}, []
    for name in inputs:
        try:
            listing[name] = parse_value(name, row.get(name))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return listing


def priced_columns(model: LoadedModel, raw: float, listing: dict) -> dict[str, object]:
    """The columns the HTTP answer gives one listing: the price rounded and kept within the
    training prices, the default interval, and the warnings' codes."""
    priced = price_listing(raw, derive(listing, model.features), model.metadata)
    bounds = priced.price_range or {}
    return {PRICE_COLUMN: priced.predicted_price, RANGE_COLUMNS[0]: bounds.get("low", ""),
            RANGE_COLUMNS[1]: bounds.get("high", ""),
            WARNINGS_COLUMN: " ".join(w["code"] for w in priced.warnings), ERROR_COLUMN: ""}


def _chunks(reader: csv.DictReader, inputs: list[str]) -> Iterator[list[tuple]]:
    chunk: list[tuple[int, dict, dict | None, str | None]] = []
    for row in reader:
        line = reader.line_num
        try:
            chunk.append((line, row, parse_row(row, inputs), None))
        except ValueError as exc:
            chunk.append((line, row, None, str(exc)))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def score_csv(model: LoadedModel, source: Path, target: Path, overwrite: bool = False,
              progress: Callable[[int], None] = lambda _: None) -> ScoringReport:
    """Write `target`: every row of `source` plus its predicted price or rejection reason."""
    if target.exists() and not overwrite:
        raise DataError(f"{target} exists; pass --overwrite to replace it")
    inputs = [name for name in model.features if not FEATURES[name].derived]
    report = ScoringReport()
    try:
        handle = open(source, newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataError(f"cannot read {source}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [name for name in inputs if FEATURES[name].required and name not in header]
        if missing:
            raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
        columns = [*header, *(c for c in ADDED_COLUMNS if c not in header)]
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
                writer.writeheader()
                for chunk in _chunks(reader, inputs):
                    valid = [listing for _, _, listing, _ in chunk if listing is not None]
                    prices = iter(predictor.predict(model, valid) if valid else [])
                    for line, row, listing, reason in chunk:
                        if listing is None:
                            report.rejected.append((line, reason))
                            writer.writerow({**row, **dict.fromkeys(ADDED_COLUMNS, ""),
                                             ERROR_COLUMN: reason})
                        else:
                            writer.writerow({**row, **priced_columns(model, next(prices),
                                                                     listing)})
                    report.rows += len(chunk)
                    report.priced += len(valid)
                    progress(len(chunk))
            if target.exists() and not overwrite:  # appeared meanwhile: still never clobber
                raise DataError(f"{target} exists; pass --overwrite to replace it")
            os.replace(temporary, target)
        except (csv.Error, UnicodeDecodeError) as exc:
            Path(temporary).unlink(missing_ok=True)
            raise DataError(f"{source}: unreadable CSV near line {reader.line_num}: {exc}") \
                from exc
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return report
