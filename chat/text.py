"""Message text: the one adapter around bleach.

Bodies are stored as the client typed them and are never rendered as HTML. To make links
clickable, `message_parts` splits a body into plain-text parts and link parts; templates and
the browser build elements from the parts with escaping / `textContent`. bleach is
unmaintained upstream, so it stays behind this module alone.
"""

from html.parser import HTMLParser

import bleach
from bleach.linkifier import Linker

_LINKER = Linker(parse_email=False, skip_tags=None)
SAFE_SCHEMES = ("http://", "https://")
LINK_REL = "noopener noreferrer nofollow"


class _PartsParser(HTMLParser):
    """Reads bleach's linkified output back into parts; any other markup stays text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[dict[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def _flush(self) -> None:
        text = "".join(self._text)
        if text:
            if self._href:
                self.parts.append({"text": text, "href": self._href})
            elif self.parts and "href" not in self.parts[-1]:
                self.parts[-1]["text"] += text
            else:
                self.parts.append({"text": text})
        self._text = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.lower().startswith(SAFE_SCHEMES):
            self._flush()
            self._href = href

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            self._flush()
            self._href = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def message_parts(body: str) -> list[dict[str, str]]:
    """Split `body` into `{"text"}` and `{"text", "href"}` parts; joined texts equal `body`."""
    if not body:
        return []
    # Escape first, so everything the client typed is text to the linkifier.
    linked = _LINKER.linkify(bleach.clean(body, tags=set(), strip=False))
    parser = _PartsParser()
    parser.feed(linked)
    parser.close()
    return parser.parts
