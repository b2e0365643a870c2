"""Message text: the one adapter around bleach.

Bodies are stored exactly as typed and never rendered as HTML. To make links clickable,
`message_parts` splits a body into plain-text parts and link parts, finding links with
bleach's own URL pattern (http and https only). The text never passes through an HTML
parser, so entities, comments, angle brackets and control characters stay as typed.
Templates and the browser build elements from the parts with escaping / `textContent`.
bleach is unmaintained upstream, so it stays behind this module alone.
"""

import re

from bleach.linkifier import build_url_re

_BLEACH_URL_RE = build_url_re(protocols=["http", "https"])
# bleach's pattern starts with `\(*`, which makes a search over a run of "(" quadratic (a
# 4000-character "((((" took a quarter of a second). Parentheses are _trim's job anyway.
_LEADING_PARENS = "\\(*  # Match any opening parentheses.\n"
if not _BLEACH_URL_RE.pattern.startswith(_LEADING_PARENS):
    raise ImportError("bleach's URL pattern changed; review chat/text.py")
_URL_RE = re.compile(_BLEACH_URL_RE.pattern[len(_LEADING_PARENS) :], _BLEACH_URL_RE.flags)
# A host right after another scheme ("ftp://x.se", "javascript://x.se") is not a web link.
_OTHER_SCHEME_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/*$")
SAFE_SCHEMES = ("http://", "https://")
LINK_REL = "noopener noreferrer nofollow"


def _trim(url: str) -> tuple[str, str, str]:
    """Split off what the pattern over-matches: wrapping parentheses, trailing , and ."""
    prefix = suffix = ""
    while url:
        if url.startswith("("):
            prefix, url = prefix + "(", url[1:]
            if url.endswith(")"):
                suffix, url = ")" + suffix, url[:-1]
        elif (url.endswith(")") and "(" not in url) or url[-1] in ",.":
            suffix, url = url[-1] + suffix, url[:-1]
        else:
            break
    return prefix, url, suffix


def message_parts(body: str) -> list[dict[str, str]]:
    """Split `body` into `{"text"}` and `{"text", "href"}` parts; joined texts equal `body`."""
    parts: list[dict[str, str]] = []

    def text(value: str) -> None:
        if not value:
            return
        if parts and "href" not in parts[-1]:
            parts[-1]["text"] += value
        else:
            parts.append({"text": value})

    position = 0
    for match in _URL_RE.finditer(body):
        if _OTHER_SCHEME_BEFORE.search(body, 0, match.start()):
            continue
        prefix, url, suffix = _trim(match.group(0))
        text(body[position : match.start()] + prefix)
        if url:
            href = url if url.lower().startswith(SAFE_SCHEMES) else f"http://{url}"
            parts.append({"text": url, "href": href})
        text(suffix)
        position = match.end()
    text(body[position:])
    return parts
