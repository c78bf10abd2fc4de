"""Errors raised when reading or querying a ward policy pack."""

from __future__ import annotations


class PolicyError(Exception):
    """Base class for policy pack errors."""


class UnknownWardError(PolicyError, LookupError):
    """No policy pack ships for this ward."""

    def __init__(self, ward: str, known: list[str]) -> None:
        self.ward = ward
        self.known = known
        super().__init__(f"no built-in policy pack for ward {ward!r} (known: {', '.join(known)})")


class UnknownPolicyCodeError(PolicyError, LookupError):
    """A code (actor kind, activity field, form, ...) is not defined in a ward's pack."""

    def __init__(self, ward: str, what: str, code: str, known: list[str]) -> None:
        self.ward = ward
        self.what = what
        self.code = code
        self.known = known
        super().__init__(
            f"ward {ward!r} has no {what} {code!r} (known: {', '.join(known) or 'none'})"
        )
