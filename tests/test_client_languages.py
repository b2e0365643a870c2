"""The client pages' other languages (settings.CLIENT_LANGUAGES): each catalogue translates
every string a client page shows, keeps the source's placeholders and plural forms, and
the pages render in it with the right `lang` and `dir`. Staff strings may stay untranslated
in them (they fall back to Swedish). See docs/translations.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation import to_locale

from frontend.client_catalogue import client_catalogue, msgids
from tests.test_translations import LOCALE_DIR, Entry, nplurals, parse_po, placeholders

NEW_LANGUAGES = [code for code, _name in settings.CLIENT_LANGUAGES if code not in ("sv", "en")]
RTL = {"ar", "fa"}
CLIENT_PAGES = ("frontend/client.js", "frontend/interpreter.js", "frontend/referral-chat.js")
# The templates a client, a returning client, an identified client, a person on a partner's
# "chat now" device or an interpreter reads, and the views whose every string a client reads.
CLIENT_TEMPLATES = re.compile(
    r"frontend/templates/frontend/(base|client|return|return_case|interpreter|quick_exit"
    r"|emergency|language_picker|error|eid_consent|eid_error|my_page|partner_chat)\.html"
    r"|frontend/(error_views|eid_views)\.py"
)
# Model labels a client page shows: a case's state on My pages.
CLIENT_MODEL_WORDS = {"open", "closed"}


def _sources(path: Path) -> dict[str, str]:
    """msgid -> its `#:` source references (the comment lines above the entry)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    sources: dict[str, str] = {}
    for entry in parse_po(path):
        refs, index = [], entry.line - 2
        while index >= 0 and lines[index].startswith("#"):
            if lines[index].startswith("#: "):
                refs.append(lines[index][3:])
            index -= 1
        sources[entry.msgid] = " ".join(refs)
    return sources


def client_msgids(domain: str) -> set[str]:
    if domain == "djangojs":
        found: set[str] = set()
        for page in CLIENT_PAGES:
            singular, plural = msgids(page)
            found |= singular | plural
        return found
    sources = _sources(LOCALE_DIR / "sv" / "LC_MESSAGES" / "django.po")
    return {
        msgid for msgid, refs in sources.items() if CLIENT_TEMPLATES.search(refs)
    } | CLIENT_MODEL_WORDS


CATALOGUES = [(lang, domain) for lang in NEW_LANGUAGES for domain in ("django", "djangojs")]


@pytest.fixture(scope="module", params=CATALOGUES, ids=lambda p: f"{p[0]}/{p[1]}")
def catalogue(request) -> tuple[str, str, list[Entry]]:
    lang, domain = request.param
    path = LOCALE_DIR / to_locale(lang) / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists(), f"{path} is missing: run `make messages`"
    return lang, domain, parse_po(path)


def test_every_client_string_is_translated(catalogue) -> None:
    lang, domain, entries = catalogue
    wanted = client_msgids(domain)
    assert wanted
    by_id = {e.msgid: e for e in entries if not e.is_header}
    missing = sorted(m for m in wanted if m in by_id and not by_id[m].is_translated)
    fuzzy = sorted(m for m in wanted if m in by_id and "fuzzy" in by_id[m].flags)
    assert not missing, f"{lang}/{domain}: translate {missing}"
    assert not fuzzy, f"{lang}/{domain}: check {fuzzy}"


def test_translations_keep_placeholders_and_plural_forms(catalogue) -> None:
    lang, _domain, entries = catalogue
    forms = nplurals(entries)
    for entry in entries:
        if entry.is_header or not entry.is_translated:
            continue
        source = placeholders(entry.msgid)
        for index, text in entry.msgstr.items():
            assert placeholders(text) == source, f"{lang}: {entry} [{index}] {text!r}"
        if entry.msgid_plural is not None:
            assert len(entry.msgstr) == forms, f"{lang}: {entry} needs {forms} forms"


@pytest.mark.parametrize("lang", NEW_LANGUAGES)
def test_the_client_catalogue_has_the_pages_strings(lang) -> None:
    data = client_catalogue("frontend/client.js", lang)
    singular, plural = msgids("frontend/client.js")
    assert set(data["strings"]) == singular | plural  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", NEW_LANGUAGES)
@pytest.mark.parametrize("path", ["/", "/return/", "/interpret/"])
@pytest.mark.django_db
def test_client_pages_render_in_the_chosen_language(client, lang, path) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    html = client.get(path).content.decode()
    direction = "rtl" if lang in RTL else "ltr"
    assert f'<html lang="{lang}" dir="{direction}">' in html
    assert "Quick exit" not in html or path == "/interpret/"
