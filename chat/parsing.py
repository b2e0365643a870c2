"""Numbers from outside, parsed once, where they come in.

Every whole number a browser sends goes through one of these functions before any other
code sees it, and nothing else in the project turns outside text into a number:

- text (a form field, a query string): `parse_int`, `parse_id`. Only ASCII digits, at
  most 19 of them: no sign, no spaces, no other script's digits. Python's `int()` takes
  "١٢", "１２", " +1 " and "1_0", and `str.isdigit()` says yes to "²", which `int()` then
  refuses; neither is the rule here.
- JSON (a websocket frame): `frame_int`, `frame_id`, `frame_seq`. A real integer: never a
  bool (True is 1 to Python), a float or a string of digits.
- Other values from a frame: `frame_text`, `frame_uuid`, `frame_bool`, `frame_choice`,
  `frame_texts` (a list of strings), `frame_list` and `frame_object` (for structures the
  consumer builds a typed value from), so that services take `str`, `uuid.UUID`, `bool`,
  enums and small typed structures, never `object`.
- An id this server put in a session: `session_id`.

A service keeps its domain rules (a note too long, a body empty, a capacity out of its
range) and checks them on the typed value; `in_range` words a range the same way as the
parsers do.

Either way the value must lie in the field's range: an id 1 to 2**63-1 (a bigint primary
key), a seq 0 to 2**31-1 (an integer column), other fields their own. Anything else raises
`InvalidInput`, or the error the caller names: a look-up that answers "not found" for an id
it cannot find answers the same for one that is not an id at all.
"""

from __future__ import annotations

import re
import uuid
from enum import Enum
from typing import TypeVar

from chat.errors import ChatError, InvalidInput

ID_MAX = 2**63 - 1  # the largest bigint, the primary keys' type
SEQ_MAX = 2**31 - 1  # the largest value of the seq columns (PositiveIntegerField)

# ASCII digits only (re.ASCII: [0-9] never matches another script's digits anyway, and this
# says so), bounded so that no long string of digits is ever converted.
DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def _refuse(name: str, minimum: int, maximum: int, error: type[ChatError]) -> ChatError:
    return error(f"`{name}` must be a whole number from {minimum} to {maximum}")


def in_range(
    value: int,
    *,
    minimum: int,
    maximum: int,
    name: str = "value",
    error: type[ChatError] = InvalidInput,
) -> int:
    """A whole number already parsed, checked against a field's range (a service's rule,
    such as a worker's capacity): worded like the parsers' refusal."""
    if not minimum <= value <= maximum:
        raise _refuse(name, minimum, maximum, error)
    return value


def parse_int(
    value: object,
    *,
    minimum: int,
    maximum: int,
    name: str = "value",
    error: type[ChatError] = InvalidInput,
) -> int:
    """A whole number typed into a form or a query string: 1 to 19 ASCII digits, nothing
    else, from `minimum` to `maximum`."""
    if not isinstance(value, str) or not DIGITS.fullmatch(value):
        raise _refuse(name, minimum, maximum, error)
    number = int(value)
    if not minimum <= number <= maximum:
        raise _refuse(name, minimum, maximum, error)
    return number


def parse_id(value: object, *, name: str = "id", error: type[ChatError] = InvalidInput) -> int:
    """A row's id from a form or a query string."""
    return parse_int(value, minimum=1, maximum=ID_MAX, name=name, error=error)


def frame_int(
    value: object,
    *,
    minimum: int,
    maximum: int,
    name: str = "value",
    error: type[ChatError] = InvalidInput,
) -> int:
    """A whole number from a JSON frame: an int that is not a bool, from `minimum` to
    `maximum`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(name, minimum, maximum, error)
    return in_range(value, minimum=minimum, maximum=maximum, name=name, error=error)


def frame_id(value: object, *, name: str = "id", error: type[ChatError] = InvalidInput) -> int:
    """A row's id from a JSON frame."""
    return frame_int(value, minimum=1, maximum=ID_MAX, name=name, error=error)


def frame_optional_id(
    value: object, *, name: str = "id", error: type[ChatError] = InvalidInput
) -> int | None:
    """A row's id from a JSON frame, or None when the field is absent or null."""
    return None if value is None else frame_id(value, name=name, error=error)


def frame_seq(value: object, *, name: str = "seq") -> int:
    """A message's place in its conversation (`after`, `seq`) from a JSON frame."""
    return frame_int(value, minimum=0, maximum=SEQ_MAX, name=name)


# --- text, UUIDs and choices ----------------------------------------------------------
# A frame's strings are checked for type here; what a field's text may hold (length, NUL,
# blank) is its service's rule, since forms reach the same services.


def frame_text(
    value: object,
    *,
    name: str = "text",
    optional: bool = False,
    error: type[ChatError] = InvalidInput,
) -> str:
    """A string from a JSON frame. `optional`: an absent field (None) is the empty string.
    `error`: a look-up by this text (a token) answers "not found" for what is not text."""
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise error(f"`{name}` must be text")
    return value


def frame_texts(value: object, *, name: str = "texts", optional: bool = True) -> tuple[str, ...]:
    """A list of strings from a JSON frame (a follow-up's quick answers). `optional`: an
    absent field (None) is no strings. How many, and how long, is the service's rule."""
    if value is None and optional:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"`{name}` must be a list of texts")
    return tuple(value)


def frame_list(value: object, *, name: str = "list", optional: bool = True) -> list[object]:
    """A list from a JSON frame, each item still to be parsed; absent (None) is empty."""
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"`{name}` must be a list")
    return value


def frame_object(value: object, *, name: str = "object") -> dict[str, object]:
    """A JSON object (a frame's nested structure), each field still to be parsed."""
    if not isinstance(value, dict):
        raise InvalidInput(f"`{name}` must be an object")
    return value


def frame_uuid(value: object, *, name: str = "client_id") -> uuid.UUID:
    """A UUID from a JSON frame or a form (`client_id`): its text form, nothing else."""
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidInput(f"`{name}` must be a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"`{name}` must be a UUID") from None


def frame_bool(value: object, *, name: str = "value", default: bool = False) -> bool:
    """A true/false from a JSON frame; absent is `default`. 1 and "yes" are not booleans."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"`{name}` must be true or false")
    return value


Choice = TypeVar("Choice", bound=Enum)


def frame_choice(value: object, choices: type[Choice], *, name: str = "value") -> Choice:
    """One of an enum's values (Django's TextChoices, IntegerChoices) from a frame or a form:
    a string for a string's value, a real int (never a bool or a float) for an int's."""
    for choice in choices:
        # type() rather than ==: True == 1 == 1.0 to Python, and none of them is the other.
        if type(value) is type(choice.value) and value == choice.value:
            return choice
    allowed = ", ".join(sorted(str(c.value) for c in choices))
    raise InvalidInput(f"`{name}` must be one of: {allowed}")


def session_id(value: object) -> int | None:
    """A row's id this server put in a session (a returning client's case), or None for
    anything else: a session from before a change, or none at all, holds no id."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
        return None
    return value
