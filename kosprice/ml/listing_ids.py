"""A stable identity for each listing row, so a fixed evaluation set can be recognised in
any CSV that contains it (and held out of training) without storing listing names."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from kosprice.features import CATEGORICAL_FEATURES, INPUT_FEATURES, NAME_COLUMN, TARGET

ROW_ID = "row_id"


def _canonical(row: dict) -> str:
    values = [str(row.get(NAME_COLUMN, ""))]
    for column in (TARGET, *INPUT_FEATURES):
        value = row[column]
        values.append(str(value) if column in CATEGORICAL_FEATURES else repr(float(value)))
    return json.dumps(values, ensure_ascii=False)


def row_ids(frame: pd.DataFrame) -> pd.Series:
    """The sha256 (first 16 hex digits) of each row's name, price and inputs, as read."""
    return pd.Series([hashlib.sha256(_canonical(row).encode()).hexdigest()[:16]
                      for row in frame.to_dict("records")], index=frame.index, dtype=object)
