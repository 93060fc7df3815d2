"""marshmallow schemas built from the feature catalogue.

A region's listing schema requires every input feature its serving model uses (no silent
defaults; only the optional title may be left out), accepts and ignores the other catalogue
features, and refuses unknown fields.
"""

from __future__ import annotations

from functools import lru_cache

from marshmallow import Schema, ValidationError, fields, validate

from kosprice.features import CATALOGUE, Feature
from kosprice.ml.intervals import LEVELS

OFFERED_PRICE = "harga_tawaran"
INTERVAL_LEVEL = "interval_level"
REQUEST_OPTIONS = (OFFERED_PRICE, INTERVAL_LEVEL)
"""Optional request fields that are not model inputs: they shape the answer."""
MAX_OFFERED_PRICE = 1_000_000_000


def json_type(value: object) -> str:
    """Name the JSON type of a decoded value, as a message says what was sent (never its value)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


class Number(fields.Float):
    """A JSON number: strings and booleans are refused rather than coerced."""

    default_error_messages = {"invalid": "Expected a JSON number, got {got}."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid", got=json_type(value))
        return super()._deserialize(value, attr, data, **kwargs)


class Flag(fields.Field):
    """An amenity flag: 0 or 1 (JSON true/false are accepted as 1/0)."""

    default_error_messages = {
        "invalid": "Must be 0 or 1.",
        "type": "Expected 0 or 1 as a JSON number (or true/false), got {got}.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if value in (0, 1) and not isinstance(value, float):
            return int(value)
        if isinstance(value, (int, float)):  # a number, just not 0 or 1 (1.0 included)
            raise self.make_error("invalid")
        raise self.make_error("type", got=json_type(value))


class Text(fields.String):
    """A JSON string: the message names the type sent instead."""

    default_error_messages = {"invalid": "Expected a JSON string, got {got}."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", got=json_type(value))
        return super()._deserialize(value, attr, data, **kwargs)


def _field(feature: Feature, required: bool) -> fields.Field:
    if feature.kind == "flag":
        return Flag(required=required)
    if feature.kind == "category":
        return Text(required=required, validate=validate.OneOf(feature.choices))
    if feature.kind == "text":
        return Text(required=required, validate=validate.Length(max=int(feature.maximum)),
                    metadata={"description": feature.description})
    return Number(required=required, allow_nan=False, validate=validate.Range(
        min=feature.minimum, max=feature.maximum, min_inclusive=not feature.exclusive_minimum))


@lru_cache(maxsize=64)
def listing_schema(used_features: tuple[str, ...]) -> Schema:
    """Return the schema for a model that uses `used_features`."""
    schema_fields = {f.name: _field(f, required=f.required and f.name in used_features)
                     for f in CATALOGUE if not f.derived}
    schema_fields[OFFERED_PRICE] = Number(
        validate=validate.Range(min=0, max=MAX_OFFERED_PRICE, min_inclusive=False),
        allow_nan=False, metadata={"description": "Offered monthly rent (Rupiah): the answer "
                                                  "then judges it (`verdict`)"})
    schema_fields[INTERVAL_LEVEL] = Number(
        validate=validate.OneOf(LEVELS), allow_nan=False,
        metadata={"description": "Coverage level of `price_range` (default 0.8)",
                  "enum": list(LEVELS)})
    return Schema.from_dict(schema_fields, name="Listing")()


def load_listing(payload: object, used_features: tuple[str, ...]) -> dict:
    """Validate a listing; raise marshmallow.ValidationError with per-field messages.

    The request options (`harga_tawaran`, `interval_level`) stay in the returned dict
    when sent; `split_options` takes them out.
    """
    if not isinstance(payload, dict):
        raise ValidationError({"_schema": ["The body must be a JSON object."]})
    return listing_schema(used_features).load(payload)


def split_options(listing: dict) -> tuple[dict, dict]:
    """Separate the model's listing from the request options (absent ones are left out)."""
    options = {k: listing[k] for k in REQUEST_OPTIONS if k in listing}
    return {k: v for k, v in listing.items() if k not in REQUEST_OPTIONS}, options
