"""A fitted ColumnTransformer, applied to listing dicts as numpy arithmetic.

Scalers (StandardScaler, RobustScaler, MinMaxScaler) and passthrough become one affine
block each — `(x - shift) / divide * multiply + add`, in float64 and in the order the
scalers' own `transform` uses — a OneHotEncoder a block of 0.0/1.0 columns, and a
CountVectorizer over the title a block of word columns, its words found by the fitted
vectorizer's own analyzer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)

from kosprice.features import AMENITY_FLAGS, FEATURES, TEXT_FEATURES
from kosprice.ml.fastpath.unsupported import Unsupported


@dataclass(frozen=True)
class Block:
    """One transformer's output columns: numbers transformed affinely, or one-hot codes."""

    inputs: tuple[str, ...]
    kind: str  # "affine", "onehot" or "words"
    shift: np.ndarray | None = None  # affine: (x - shift) / divide * multiply + add
    divide: np.ndarray | None = None
    multiply: np.ndarray | None = None
    add: np.ndarray | None = None
    clip: tuple[float, float] | None = None
    codes: tuple[dict[str, int], ...] = ()  # onehot: category -> column, per input
    analyzer: Callable[[str], list[str]] | None = None  # words: text -> words, word -> column
    binary: bool = True

    @property
    def width(self) -> int:
        if self.kind == "affine":
            return len(self.inputs)
        return sum(len(codes) for codes in self.codes)


def _affine_block(transformer: object, inputs: tuple[str, ...]) -> Block:
    n = len(inputs)
    if transformer == "passthrough" or (  # a fitted ColumnTransformer's "passthrough"
            type(transformer) is FunctionTransformer and transformer.func is None):
        return Block(inputs, "affine")
    if type(transformer) is StandardScaler:
        return Block(inputs, "affine",
                     shift=transformer.mean_ if transformer.with_mean else None,
                     divide=transformer.scale_ if transformer.with_std else None)
    if type(transformer) is RobustScaler:
        return Block(inputs, "affine",
                     shift=transformer.center_ if transformer.with_centering else None,
                     divide=transformer.scale_ if transformer.with_scaling else None)
    if type(transformer) is MinMaxScaler:
        return Block(inputs, "affine", multiply=transformer.scale_, add=transformer.min_,
                     clip=tuple(transformer.feature_range) if transformer.clip else None)
    raise Unsupported(f"numeric transformer {type(transformer).__name__} on {n} column(s)")


def _words_block(vectorizer: CountVectorizer, column: str) -> Block:
    if type(vectorizer) is not CountVectorizer:
        raise Unsupported(f"text transformer {type(vectorizer).__name__}")
    # The same callable CountVectorizer.transform applies to each document.
    return Block((column,), "words", codes=(dict(vectorizer.vocabulary_),),
                 analyzer=vectorizer.build_analyzer(), binary=vectorizer.binary)


def _onehot_block(encoder: OneHotEncoder, inputs: tuple[str, ...]) -> Block:
    if encoder.handle_unknown != "ignore" or encoder.drop_idx_ is not None:
        raise Unsupported("OneHotEncoder must use handle_unknown='ignore' and no drop")
    if getattr(encoder, "_infrequent_enabled", False):
        raise Unsupported("OneHotEncoder with infrequent categories")
    codes = []
    for categories in encoder.categories_:
        if not all(isinstance(c, str) for c in categories):
            raise Unsupported("OneHotEncoder categories must be strings")
        codes.append({c: i for i, c in enumerate(categories)})
    return Block(inputs, "onehot", codes=tuple(codes))


class Encoder:
    """A fitted ColumnTransformer, applied to listing dicts."""

    def __init__(self, transformer: ColumnTransformer, features: Sequence[str]) -> None:
        if not isinstance(transformer, ColumnTransformer):
            raise Unsupported(f"preprocessing is a {type(transformer).__name__}")
        self.features = tuple(features)
        self.blocks: list[Block] = []
        for _name, step, columns in transformer.transformers_:
            if step == "drop" or len(columns) == 0:
                continue
            if isinstance(columns, str):  # one column name: a text transformer's 1-D input
                if columns not in TEXT_FEATURES or columns not in self.features:
                    raise Unsupported(f"a transformer of the single column {columns!r}")
                self.blocks.append(_words_block(step, columns))
                continue
            if not all(isinstance(c, str) and c in self.features for c in columns):
                raise Unsupported("ColumnTransformer columns must be feature names")
            inputs = tuple(columns)
            is_onehot = type(step) is OneHotEncoder
            self.blocks.append(_onehot_block(step, inputs) if is_onehot
                               else _affine_block(step, inputs))
        # Numbers are read straight from the listings; amenities_count is derived as
        # features.derive does (the model's own amenity flags, summed), but for all rows at once.
        derived = [f for f in self.features if FEATURES[f].derived]
        if derived not in ([], ["amenities_count"]):
            raise Unsupported(f"derived feature(s) {derived}")
        self.given = tuple(f for f in self.features if not FEATURES[f].derived
                           and FEATURES[f].kind not in ("category", "text"))
        self.amenities = np.array([i for i, f in enumerate(self.given) if f in AMENITY_FLAGS],
                                  dtype=np.intp) if derived else None
        self.numeric = (*self.given, *derived)
        position = {c: i for i, c in enumerate(self.numeric)}
        self._columns = [np.array([position[c] for c in b.inputs], dtype=np.intp)
                         if b.kind == "affine" else None for b in self.blocks]
        self.width = sum(b.width for b in self.blocks)

    def encode(self, listings: Sequence[Mapping[str, object]]) -> np.ndarray:
        """Return the float64 matrix the Pipeline's regressor would receive."""
        given = self.given
        numbers = np.empty((len(listings), len(self.numeric)), dtype=np.float64)
        numbers[:, :len(given)] = [[listing[c] for c in given] for listing in listings]
        if self.amenities is not None:
            numbers[:, -1] = numbers[:, self.amenities].sum(axis=1)
        parts = []
        for block, columns in zip(self.blocks, self._columns, strict=True):
            if block.kind == "affine":
                parts.append(_affine(block, numbers[:, columns]))
            elif block.kind == "onehot":
                parts.append(_onehot(block, listings))
            else:
                parts.append(_words(block, listings))
        return np.hstack(parts) if len(parts) > 1 else parts[0]


def _affine(block: Block, x: np.ndarray) -> np.ndarray:
    # The same in-place float64 operations, in the same order, as the scalers' transform.
    if block.shift is not None:
        x -= block.shift
    if block.divide is not None:
        x /= block.divide
    if block.multiply is not None:
        x *= block.multiply
    if block.add is not None:
        x += block.add
    if block.clip is not None:
        np.clip(x, block.clip[0], block.clip[1], out=x)
    return x


def _onehot(block: Block, rows: Sequence[Mapping[str, object]]) -> np.ndarray:
    widths = [len(codes) for codes in block.codes]
    out = np.zeros((len(rows), sum(widths)), dtype=np.float64)
    start = 0
    for name, codes, width in zip(block.inputs, block.codes, widths, strict=True):
        # An unknown category sets no column (handle_unknown="ignore"): all zeros.
        column = np.array([codes.get(row[name], -1) for row in rows], dtype=np.intp)
        known = column >= 0
        out[np.flatnonzero(known), start + column[known]] = 1.0
        start += width
    return out


def _words(block: Block, rows: Sequence[Mapping[str, object]]) -> np.ndarray:
    (name,), (vocabulary,), analyzer = block.inputs, block.codes, block.analyzer
    out = np.zeros((len(rows), len(vocabulary)), dtype=np.float64)
    for i, row in enumerate(rows):
        text = row.get(name, FEATURES[name].default)
        for word in analyzer(text if isinstance(text, str) else ""):
            column = vocabulary.get(word)
            if column is not None:  # a word the vectorizer never saw sets no column
                out[i, column] = 1.0 if block.binary else out[i, column] + 1.0
    return out
