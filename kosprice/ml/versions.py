"""Semantic versions of model folders: `vMAJOR.MINOR.PATCH`, ordered as numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Bump = Literal["major", "minor", "patch"]

# fullmatch, and [0-9] rather than \d: "v1.0.0\n" or non-ASCII digits are not versions.
_PATTERN = re.compile(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse `vX.Y.Z`; raise ValueError for anything else (no leading zeros, no suffix)."""
        match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"{text!r} is not a version of the form vMAJOR.MINOR.PATCH")
        return cls(*(int(part) for part in match.groups()))

    @classmethod
    def is_valid(cls, text: str) -> bool:
        return isinstance(text, str) and bool(_PATTERN.fullmatch(text))

    def bump(self, kind: Bump) -> Version:
        if kind == "major":
            return Version(self.major + 1, 0, 0)
        if kind == "minor":
            return Version(self.major, self.minor + 1, 0)
        return Version(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


FIRST = Version(1, 0, 0)
