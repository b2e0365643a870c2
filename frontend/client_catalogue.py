"""The client pages' JavaScript strings, inlined into the page instead of `/jsi18n/`.

`/jsi18n/` sends every JavaScript string of the project (the console's and the dashboard's
too) and Django's date formats: about 26 KB on a client's cold load. A client page gets
only the strings of its own modules: those its entry module imports, followed through their
`import` lines, as written out literally in `gettext("...")` and `ngettext("...", "...")`
calls (makemessages reads the same calls). frontend/static/frontend/i18n.js gives the
page `gettext`, `ngettext` and `interpolate` over it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from django.apps import apps
from django.utils.translation import get_language
from django.utils.translation.trans_real import DjangoTranslation
from django.views.i18n import JavaScriptCatalog

STATIC_ROOT = Path(apps.get_app_config("frontend").path) / "static"
_STRING = r'"((?:[^"\\]|\\.)*)"'
_IMPORT = re.compile(r'(?:from\s+|import\s*\(\s*)"(\./[\w./-]+\.js)"')
_GETTEXT = re.compile(r"(?<![\w.])gettext\(\s*" + _STRING + r"\s*[,)]")
_NGETTEXT = re.compile(r"(?<![\w.])ngettext\(\s*" + _STRING + r"\s*,\s*" + _STRING)

# The order of each language's plural forms in its catalogue, as Unicode plural categories
# (Intl.PluralRules names them in the browser): the catalogue's Plural-Forms formula is not
# code the page may run (no inline or evaluated script under the CSP).
PLURAL_ORDER: dict[str, list[str]] = {
    "ar": ["zero", "one", "two", "few", "many", "other"],
    "uk": ["one", "few", "many", "other"],
}
DEFAULT_PLURAL_ORDER = ["one", "other"]


def _read_js_string(text: str) -> str:
    return str(json.loads(f'"{text}"'))


@cache
def module_files(entry: str) -> tuple[Path, ...]:
    """The entry module (a path under frontend/static, e.g. "frontend/client.js") and every
    module it imports, statically or with import()."""
    seen: list[Path] = []
    todo = [(STATIC_ROOT / entry).resolve()]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        source = path.read_text(encoding="utf-8")
        todo.extend((path.parent / name).resolve() for name in _IMPORT.findall(source))
    return tuple(seen)


@cache
def msgids(entry: str) -> tuple[frozenset[str], frozenset[str]]:
    """(singular msgids, plural msgids keyed by their singular) the entry's modules use."""
    singular: set[str] = set()
    plural: set[str] = set()
    for path in module_files(entry):
        source = path.read_text(encoding="utf-8")
        singular.update(_read_js_string(m) for m in _GETTEXT.findall(source))
        plural.update(_read_js_string(one) for one, _other in _NGETTEXT.findall(source))
    return frozenset(singular), frozenset(plural)


def _full_catalog(language: str) -> dict[str, str | list[str]]:
    view = JavaScriptCatalog()
    view.translation = DjangoTranslation(language, domain="djangojs")
    return view.get_catalog()


@cache
def client_catalogue(entry: str, language: str) -> dict[str, object]:
    """The page's catalogue: its translated strings and how to choose a plural form."""
    singular, plural = msgids(entry)
    full = _full_catalog(language)
    strings = {
        msgid: value
        for msgid, value in full.items()
        if (msgid in singular and isinstance(value, str) and value)
        or (msgid in plural and isinstance(value, list) and all(value))
    }
    base = language.split("-")[0]
    return {
        "strings": dict(sorted(strings.items())),
        "plural": {"lang": base, "order": PLURAL_ORDER.get(base, DEFAULT_PLURAL_ORDER)},
    }


def current_client_catalogue(entry: str) -> dict[str, object]:
    return client_catalogue(entry, get_language() or "sv")
