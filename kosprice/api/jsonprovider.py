"""Flask's JSON provider with orjson in front: the same documents, parsed and written faster.

A 1,000-listing batch is a 200 KB body and a 200 KB answer: the standard library spends
about 1.6 ms parsing and 1.9 ms writing them, orjson 0.5 and 0.2. orjson is used only where
its result is the one the standard library gives; everywhere else (`dumps`, any keyword
argument, sorted keys, an indented debug answer) the provider is Flask's own:

- parsing: UTF-8 bytes without a run of 19 digits (orjson reads an integer beyond 64 bits
  as a float), nesting at most 254 levels, that orjson accepts; whatever it refuses (NaN,
  1e400, lone surrogates, other encodings) is parsed, or refused, by `json.loads` exactly
  as before;
- answering (`response`, hence `jsonify`): documents of plain dicts, lists, strings,
  integers, floats, booleans and None whose orjson text is ASCII (Flask escapes the rest)
  and holds no `null` (orjson writes NaN and infinities as null where Flask writes NaN and
  Infinity). Floats keep their value; only an exponent may be spelled differently (1.5e-05
  as 0.000015).
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)
"""Subclasses (numpy floats among them), dates and dataclasses go to Flask's `default`."""
_DIGITS = bytes.maketrans(b"0123456789", b"9" * 10)
_LONG_NUMBER = b"9" * 19
_SHALLOW = 254
"""A body with at most this many brackets nests no deeper; one with more is parsed by orjson
only when orjson can also write it back, which it refuses beyond 254 levels. The standard
library, recursing once per level, refuses about 1,000 levels (a 400): no body that deep may
be accepted."""


class _Unplain(TypeError):
    """A value orjson would write by its own rules, not Flask's."""


def _refuse(value: object) -> Any:
    raise _Unplain


class FastJSONProvider(DefaultJSONProvider):
    """`DefaultJSONProvider` answering the same, through orjson when that is provably so."""

    def _plain_dump(self, obj: Any) -> bytes | None:
        """orjson's text of `obj` when it means what Flask's compact text does, else None."""
        if self.sort_keys or not self.ensure_ascii:
            return None
        try:
            text = orjson.dumps(obj, default=_refuse, option=_OPTIONS)
        except orjson.JSONEncodeError:  # a type of its own, an integer beyond 64 bits...
            return None
        return text if text.isascii() and b"null" not in text else None

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if not kwargs and type(s) is bytes and _LONG_NUMBER not in s.translate(_DIGITS):
            try:
                value = orjson.loads(s)
                if s.count(b"[") + s.count(b"{") > _SHALLOW:
                    orjson.dumps(value)  # refuses to nest deeper than 254
                return value
            except (orjson.JSONDecodeError, orjson.JSONEncodeError):
                pass  # the standard library's answer (a value, or its own error) stands
        return super().loads(s, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        indented = (self.compact is None and self._app.debug) or self.compact is False
        if not indented:
            text = self._plain_dump(self._prepare_response_obj(args, kwargs))
            if text is not None:
                return self._app.response_class(text + b"\n", mimetype=self.mimetype)
        return super().response(*args, **kwargs)
