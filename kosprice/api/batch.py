"""Listing validation for both predict views; batch requests (`{"listings": [...]}`) checked
item by item, errors reported by index.

Validating a thousand listings through marshmallow costs more than pricing them, so each
item first meets `quick_listing`, a plain-Python restatement of the listing schema that only
ever *accepts*: an item it is not sure about goes through marshmallow, whose messages (and
verdict) are the ones reported. A test checks on thousands of random payloads that the two
agree on every item the quick path accepts.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from marshmallow import ValidationError

from kosprice.api.schemas import load_listing
from kosprice.errors import BatchTooLargeError
from kosprice.features import CATALOGUE

_FLAG, _CATEGORY, _NUMBER, _TEXT = 0, 1, 2, 3


@lru_cache(maxsize=64)
def _specs(used_features: tuple[str, ...]) -> tuple[dict[str, tuple], frozenset[str]]:
    """Per input feature (kind, low, high, exclusive minimum, choices); the required ones."""
    specs = {}
    for f in CATALOGUE:
        if not f.derived:
            kind = {"flag": _FLAG, "category": _CATEGORY, "text": _TEXT}.get(f.kind, _NUMBER)
            low = -math.inf if f.minimum is None else f.minimum
            high = math.inf if f.maximum is None else f.maximum
            specs[f.name] = (kind, low, high, f.exclusive_minimum, f.choices)
    required = frozenset(f.name for f in CATALOGUE if f.required and f.name in used_features)
    return specs, required


def quick_listing(payload: object, used_features: tuple[str, ...]) -> dict | None:
    """The listing schema's result for a plainly valid listing; None when unsure."""
    specs, required = _specs(used_features)
    if type(payload) is not dict or not required.issubset(payload):
        return None
    listing = {}
    for name, value in payload.items():
        spec = specs.get(name)
        if spec is None:
            return None
        kind, kind_of_value = spec[0], type(value)
        if kind == _FLAG:  # 0/1, or JSON true/false
            if (kind_of_value is not int and kind_of_value is not bool) or value not in (0, 1):
                return None
            listing[name] = int(value)
        elif kind == _CATEGORY:
            if kind_of_value is not str or value not in spec[4]:
                return None
            listing[name] = value
        elif kind == _TEXT:
            if kind_of_value is not str or len(value) > spec[2]:
                return None
            listing[name] = value
        else:  # a JSON number, finite, within the bounds
            if kind_of_value is not float and kind_of_value is not int:
                return None
            try:
                number = float(value)
            except OverflowError:
                return None
            low, high = spec[1], spec[2]
            if not (low <= number <= high) or (spec[3] and number == low):
                return None  # NaN fails the comparison too; inf is above any bound
            listing[name] = number
    return listing


def validate_listing(payload: object, used_features: tuple[str, ...]) -> dict:
    """The listing schema's result: the quick check's for a plainly valid listing (a single
    one too: marshmallow costs more than the model call), else marshmallow's, which raises
    ValidationError with its messages."""
    listing = quick_listing(payload, used_features)
    return load_listing(payload, used_features) if listing is None else listing


def _invalid(message: str) -> ValidationError:
    return ValidationError({"listings": [message]})


def load_batch(body: object, used_features: tuple[str, ...], max_items: int,
               ) -> tuple[list[tuple[int, dict]], dict[int, dict]]:
    """Return the valid listings with their index, and each invalid item's field errors.

    The body must be `{"listings": [...]}` with 1 to `max_items` items (more: 413).
    """
    if not isinstance(body, dict) or set(body) != {"listings"}:
        raise ValidationError({"_schema": ['The body must be a JSON object with one key, '
                                           '"listings": a list of listings.']})
    items = body["listings"]
    if not isinstance(items, list):
        raise _invalid("Must be a list of listings.")
    if not items:
        raise _invalid("The list is empty.")
    if len(items) > max_items:
        raise BatchTooLargeError(
            f"A batch holds at most {max_items} listings; this one has {len(items)}.",
            {"max_items": max_items, "items": len(items)})
    valid, errors = [], {}
    for index, (item, listing) in enumerate(zip(items, quick_listings(items, used_features),
                                                strict=True)):
        try:
            valid.append((index, load_listing(item, used_features) if listing is None
                          else listing))
        except ValidationError as exc:
            errors[index] = exc.messages if isinstance(exc.messages, dict) \
                else {"_schema": exc.messages}
    return valid, errors


def quick_listings(items: list, used_features: tuple[str, ...]) -> list[dict | None]:
    """`quick_listing` of each item, checked a column at a time for the items that send the
    same keys in the same order (a batch's usual shape); item by item where unsure."""
    found: list[dict | None] = [None] * len(items)  # what quick_listing says of a non-dict
    groups: dict[tuple, list[int]] = {}
    for index, item in enumerate(items):
        if type(item) is dict:
            groups.setdefault(tuple(item), []).append(index)
    for names, indices in groups.items():
        columns = _quick_columns(names, [items[i] for i in indices], used_features)
        if columns is None:
            for i in indices:
                found[i] = quick_listing(items[i], used_features)
        else:
            for i, values in zip(indices, zip(*columns, strict=True), strict=True):
                found[i] = dict(zip(names, values, strict=True))
    return found


def _quick_columns(names: tuple, group: list[dict], used_features: tuple[str, ...],
                   ) -> list[list] | None:
    """Each named column's values as `quick_listing` returns them, when it would accept
    every item of the group; None when unsure of any."""
    specs, required = _specs(used_features)
    if not names or not required.issubset(names):
        return None
    columns = []
    for name in names:
        spec = specs.get(name)
        if spec is None:
            return None
        values = [item[name] for item in group]
        types = set(map(type, values))
        if spec[0] == _FLAG:
            if not types <= {int, bool} or not {0, 1}.issuperset(values):
                return None
            columns.append(values if types == {int} else [int(v) for v in values])
        elif spec[0] == _CATEGORY:
            if types != {str} or not set(spec[4]).issuperset(values):
                return None
            columns.append(values)
        elif spec[0] == _NUMBER:
            if not types <= {int, float}:
                return None
            try:
                numbers = values if types == {float} else [float(v) for v in values]
            except OverflowError:
                return None
            array, low = np.asarray(numbers), spec[1]
            inside = (array >= low) & (array <= spec[2])  # NaN fails the comparisons too
            if not inside.all() or (spec[3] and (array == low).any()):
                return None
            columns.append(numbers)
        else:  # text (the title): strings up to the length limit
            if types != {str} or max(map(len, values)) > spec[2]:
                return None
            columns.append(values)
    return columns
