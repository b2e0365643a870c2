"""Errors that services raise and interfaces turn into an `error` frame or an HTTP status.

Each has a stable `code` that the browser maps to translated text (docs/realtime.md).
"""


class ChatError(Exception):
    code = "error"
    http_status = 400

    def __init__(self, message: str = "", *, code: str | None = None, **details: object) -> None:
        super().__init__(message or self.code)
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.details = details


class InvalidInput(ChatError):
    code = "invalid"


class TooLong(InvalidInput):
    code = "too_long"


class NotAllowed(ChatError):
    code = "forbidden"
    http_status = 403


class NotFound(ChatError):
    code = "not_found"
    http_status = 404


class Conflict(ChatError):
    """The action does not fit the conversation's state (ended, already taken, ...)."""

    code = "conflict"
    http_status = 409


class NothingWaiting(Conflict):
    code = "nothing_waiting"
