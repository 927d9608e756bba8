"""Errors a resolver raises on purpose; the app gives each its ``extensions.code``."""

from __future__ import annotations


class GatewayError(Exception):
    """A refusal the client should see as it is: the message is safe to show."""

    code = "GATEWAY_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadUserInput(GatewayError):
    """An argument is not acceptable (a phone that is not a phone, ``first`` out of range)."""

    code = "BAD_USER_INPUT"
