"""Errors a resolver raises on purpose; the app gives each its ``extensions.code``."""

from __future__ import annotations


class GatewayError(Exception):
    """A refusal the client should see as it is: the message is safe to show."""

    code = "GATEWAY_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def extensions(self) -> dict[str, object]:
        """What the client sees in ``extensions``: the code, and whatever a subclass adds."""
        return {"code": self.code}


class BadUserInput(GatewayError):
    """An argument is not acceptable (a phone that is not a phone, ``first`` out of range)."""

    code = "BAD_USER_INPUT"


class VerificationRequired(GatewayError):
    """A personal field needs a stronger verification of the caller than the interaction has.

    ``required_level`` (a ``VerificationLevel`` name) tells the desktop what to ask for.
    """

    code = "VERIFICATION_REQUIRED"

    def __init__(self, field: str, required_level: str) -> None:
        super().__init__(f"{field} needs the caller verified at level {required_level} or above")
        self.required_level = required_level

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "requiredLevel": self.required_level}


class Forbidden(GatewayError):
    """The principal's role may not have this at all, whatever the caller's verification."""

    code = "FORBIDDEN"


class PersonalDataWithheld(GatewayError):
    """The audit trail could not be written, so the personal fields were not served."""

    code = "AUDIT_UNAVAILABLE"
