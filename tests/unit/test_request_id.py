"""X-Request-ID: a client's ID is trusted only when well formed; otherwise a new UUID4."""

from __future__ import annotations

import uuid

import pytest

from kosprice.api.context import request_id_from


def is_uuid4(text: str) -> bool:
    return uuid.UUID(text).version == 4 and str(uuid.UUID(text)) == text


@pytest.mark.parametrize("header", ["abc", "req-2024.11_27", "A" * 128, "0", "..."])
def test_well_formed_ids_are_kept(header):
    assert request_id_from(header) == header


@pytest.mark.parametrize("header", [
    None, "", "A" * 129, "has space", "semi;colon", "slash/ed", "ünïcode", "abc\n",
    "abc\r\nSet-Cookie: x=1", "{json}",
])
def test_malformed_ids_are_replaced_by_a_uuid4(header):
    replaced = request_id_from(header)
    assert replaced != header
    assert is_uuid4(replaced)


def test_each_replacement_is_new():
    assert request_id_from(None) != request_id_from(None)
