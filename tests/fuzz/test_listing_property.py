"""Property: any JSON value either validates as a listing or gets a 422, never an exception."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from kosprice.api.errors import capped_fields
from kosprice.api.schemas import load_listing
from kosprice.features import FEATURES, INPUT_FEATURES
from tests.factories import LISTING

USED = tuple(name for name in INPUT_FEATURES if name not in {"is_ac", "is_internet"})

json_scalars = (st.none() | st.booleans() | st.integers() | st.text()
                | st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                           max_leaves=20)
# Near-valid listings reach the per-field checks more often than arbitrary objects.
mutated_listings = st.builds(
    lambda changes, dropped: {**{k: v for k, v in LISTING.items() if k not in dropped},
                              **changes},
    st.dictionaries(st.sampled_from([*INPUT_FEATURES, "harga", "x"]), json_values,
                    max_size=4),
    st.sets(st.sampled_from(INPUT_FEATURES), max_size=3))


@given(st.one_of(json_values, mutated_listings))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_value_validates_or_is_refused_with_field_messages(value):
    try:
        listing = load_listing(value, USED)
    except ValidationError as exc:  # what the API answers with a 422
        assert isinstance(exc.messages, dict) and exc.messages
        fields, left_out = capped_fields(exc.messages)
        assert len(fields) <= 20 and left_out >= 0
        return
    # Accepted: every used feature is present and inside the catalogue's bounds.
    for name in USED:
        assert FEATURES[name].accepts(listing[name]), (name, listing[name])
        if isinstance(listing[name], float):
            assert math.isfinite(listing[name])
