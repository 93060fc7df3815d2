"""The feature catalogue: the single source of truth for model inputs.

The API schemas, the training code and the startup integrity checks all read this module;
nothing else in kosprice may spell out a feature name, bound or allowed value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["number", "category", "flag", "text"]

REGIONS: tuple[str, ...] = ("jakarta_pusat", "jakarta_selatan", "jakarta_utara", "yogyakarta")
TARGET = "harga"
"""Monthly rent in Rupiah: the training target."""

NAME_COLUMN = "nama_kos"
"""Listing title: present in the CSVs; an optional model input (kind "text")."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: Kind
    description: str
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    derived: bool = False
    """Computed by the server from other features; clients never send it."""
    optional: bool = False
    """May be left out even when the model uses it (then it is `default`)."""
    default: object = None

    @property
    def required(self) -> bool:
        return not (self.derived or self.optional)

    def accepts(self, value: object) -> bool:
        """Return whether a value lies inside this feature's bounds or choices."""
        if self.kind == "category":
            return value in self.choices
        if self.kind == "flag":
            return value in (0, 1)
        if self.kind == "text":
            return isinstance(value, str) and len(value) <= (self.maximum or math.inf)
        # numbers.Real admits numpy scalars (pandas hands them over); NaN and inf never fit.
        if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                or not math.isfinite(value)):
            return False
        if self.minimum is not None:
            if value < self.minimum or (self.exclusive_minimum and value == self.minimum):
                return False
        return self.maximum is None or bool(value <= self.maximum)


def _flag(name: str, description: str) -> Feature:
    return Feature(name, "flag", description, minimum=0, maximum=1)


CATALOGUE: tuple[Feature, ...] = (
    Feature("luas_kamar", "number", "Room size", unit="m²",
            minimum=1, maximum=100),  # training clips smaller sizes (0 is a placeholder) to 1
    Feature("jarak_ke_bca", "number", "Distance to the region's reference point (BCA branch)",
            unit="km", minimum=0, maximum=50),
    Feature("tipe_kos", "category", "Who may rent: male, female or mixed",
            choices=("putra", "putri", "campur")),
    _flag("is_ac", "Air conditioning"),
    _flag("is_km_dalam", "En-suite bathroom"),
    _flag("is_water_heater", "Water heater"),
    _flag("is_furnished", "Furnished"),
    _flag("is_internet", "Internet included"),
    _flag("is_listrik_free", "Electricity included in the rent"),
    _flag("is_parkir_mobil", "Car parking"),
    _flag("is_mesin_cuci", "Washing machine"),
    Feature("amenities_count", "number", "Number of amenity flags set among those the model uses",
            minimum=0, maximum=8, derived=True),
    # Models that read the title fall back to a title-less twin when it is left out or blank
    # (kosprice.ml.title); the catalogue bounds its length (`maximum`, in characters).
    Feature(NAME_COLUMN, "text", "Listing title as advertised, e.g. 'Kost Singgahsini Omah "
            "Aqila Tipe A Yogyakarta' (optional)", maximum=200, optional=True, default=""),
)

FEATURES: Mapping[str, Feature] = {feature.name: feature for feature in CATALOGUE}
INPUT_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE
                                        if not f.derived and f.kind != "text")
"""The structured inputs every listing row carries (the optional title is TEXT_FEATURES)."""
TEXT_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.kind == "text")
AMENITY_FLAGS: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.kind == "flag")
DERIVED_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.derived)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.kind == "category")
CSV_COLUMNS: tuple[str, ...] = (NAME_COLUMN, TARGET, *INPUT_FEATURES)


def derive(listing: Mapping[str, object], model_features: tuple[str, ...] | list[str]) -> dict:
    """Return the model's input row for a listing, computing derived features.

    `amenities_count` counts the amenity flags set among those the model itself uses, so
    training and serving derive it from exactly the same columns.
    """
    row = {}
    for name in model_features:
        feature = FEATURES[name]
        if not feature.derived:
            row[name] = listing.get(name, feature.default) if feature.optional else listing[name]
    if "amenities_count" in model_features:
        row["amenities_count"] = sum(int(row[n]) for n in AMENITY_FLAGS if n in row)
    return row

