"""The Swedish catalogues are complete, compiled and keep every placeholder; pages render
in Swedish by default and in English on request.

The catalogue tests read the files with a small pure-Python .po parser, so they need no
database and no GNU gettext. How to update the catalogues: locale/README.md.
"""

from __future__ import annotations

import gettext
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAINS = ("django", "djangojs")
LANGUAGES = ("sv", "en")
SOURCE_LANGUAGE = "en"  # msgids are English, so English msgstrs may stay empty


# --- a small .po parser ----------------------------------------------------------------
@dataclass
class Entry:
    line: int
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # plural index -> text; 0 if singular
    flags: set[str] = field(default_factory=set)

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def is_translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())

    @property
    def mo_key(self) -> str:
        """The msgid as a compiled catalogue stores it: context, EOT, msgid."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    def __str__(self) -> str:
        return f"line {self.line}: {self.msgid!r}"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}  # fmt: skip
_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+"(.*)"\s*$')
_CONTINUATION = re.compile(r'^"(.*)"\s*$')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def parse_po(path: Path) -> list[Entry]:
    """Entries of a .po file, header included; obsolete (`#~`) entries are left out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    flags: set[str] = set()
    target: tuple[str, int] | None = None  # the field a continuation line extends

    def finish() -> None:
        nonlocal entry, target
        if entry is not None:
            entries.append(entry)
        entry, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#"):
            if entry is not None and entry.msgstr:
                finish()  # entries not separated by a blank line
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue  # translator, extracted, reference, previous (#|) and obsolete (#~)
        keyword = _KEYWORD.match(line)
        if keyword:
            name, index, text = keyword.group(1), keyword.group(2), _unescape(keyword.group(3))
            if name in {"msgctxt", "msgid"} and entry is not None and entry.msgstr:
                finish()
            if entry is None:
                entry, flags = Entry(line=number, flags=flags), set()
            if name == "msgctxt":
                entry.msgctxt, target = text, ("msgctxt", 0)
            elif name == "msgid":
                entry.msgid, target = text, ("msgid", 0)
            elif name == "msgid_plural":
                entry.msgid_plural, target = text, ("msgid_plural", 0)
            else:
                slot = int(index) if index is not None else 0
                entry.msgstr[slot], target = text, ("msgstr", slot)
            continue
        continuation = _CONTINUATION.match(line)
        if continuation and entry is not None and target is not None:
            text = _unescape(continuation.group(1))
            name, slot = target
            if name == "msgstr":
                entry.msgstr[slot] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
            continue
        raise ValueError(f"{path}:{number}: cannot parse {raw!r}")
    finish()
    return entries


def header_fields(entries: list[Entry]) -> dict[str, str]:
    header = next((e for e in entries if e.is_header), None)
    assert header is not None, "the catalogue has no header entry"
    lines = header.msgstr.get(0, "").splitlines()
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines) if k}


def nplurals(entries: list[Entry]) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", header_fields(entries).get("Plural-Forms", ""))
    assert match, "the header has no Plural-Forms"
    return int(match.group(1))


# Python and JavaScript (`interpolate`) placeholders: %s, %d, %(name)s ...; %% is a literal.
_PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[-+ #0]*\d*(?:\.\d+)?[sdifr%]")


def placeholders(text: str) -> tuple[list[str], list[str]]:
    """(positional in order, named sorted): positional ones cannot be reordered."""
    found = [p for p in _PLACEHOLDER.findall(text) if p != "%%"]
    return [p for p in found if "(" not in p], sorted(p for p in found if "(" in p)


def catalogue(language: str, domain: str) -> tuple[Path, list[Entry]]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists(), f"{path} is missing: run `make messages`"
    return path, parse_po(path)


CATALOGUES = [(lang, domain) for lang in LANGUAGES for domain in DOMAINS]
CATALOGUE_IDS = [f"{lang}/{domain}" for lang, domain in CATALOGUES]


# --- catalogue tests -------------------------------------------------------------------
def test_the_parser_reads_plurals_contexts_and_multiline_strings(tmp_path: Path) -> None:
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        '#, fuzzy, python-format\nmsgctxt "queue"\nmsgid ""\n"two "\n"lines \\"quoted\\"\\n"\n'
        'msgstr "två rader"\n\n'
        'msgid "%s minute"\nmsgid_plural "%s minutes"\nmsgstr[0] "%s minut"\n'
        'msgstr[1] ""\n"%s minuter"\n\n'
        '#~ msgid "gone"\n#~ msgstr "borta"\n',
        encoding="utf-8",
    )
    header, context, plural = parse_po(po)
    assert nplurals([header, context, plural]) == 2
    assert context.msgid == 'two lines "quoted"\n'
    assert context.msgctxt == "queue"
    assert context.mo_key == 'queue\x04two lines "quoted"\n'
    assert context.flags == {"fuzzy", "python-format"}
    assert plural.msgid_plural == "%s minutes"
    assert plural.msgstr == {0: "%s minut", 1: "%s minuter"}
    assert plural.flags == set()
    assert placeholders("%(count)d of %s, %d%% done") == (["%s", "%d"], ["%(count)d"])


@pytest.mark.parametrize("language,domain", CATALOGUES, ids=CATALOGUE_IDS)
def test_the_header_names_the_language_and_its_plural_forms(language: str, domain: str) -> None:
    _path, entries = catalogue(language, domain)
    fields = header_fields(entries)
    assert fields.get("Language") == language
    assert "charset=UTF-8" in fields.get("Content-Type", "")
    # Swedish and English: one form for 1, another for everything else.
    assert fields.get("Plural-Forms") == "nplurals=2; plural=(n != 1);"
    header = next(e for e in entries if e.is_header)
    assert "fuzzy" not in header.flags, "remove `#, fuzzy` from the header (msgfmt skips it)"


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_swedish_string_is_translated_and_checked(domain: str) -> None:
    path, entries = catalogue("sv", domain)
    messages = [e for e in entries if not e.is_header]
    assert messages, f"{path} has no messages: run `make messages`"
    untranslated = [str(e) for e in messages if not e.is_translated]
    fuzzy = [str(e) for e in messages if "fuzzy" in e.flags]
    assert not untranslated, f"{path}: translate these, then `make messages`: {untranslated}"
    assert not fuzzy, f"{path}: check these, then remove `#, fuzzy`: {fuzzy}"


@pytest.mark.parametrize("language,domain", CATALOGUES, ids=CATALOGUE_IDS)
def test_plural_entries_have_one_text_per_plural_form(language: str, domain: str) -> None:
    _path, entries = catalogue(language, domain)
    forms = nplurals(entries)
    for entry in entries:
        if entry.msgid_plural is not None:
            assert sorted(entry.msgstr) == list(range(forms)), entry
            if language != SOURCE_LANGUAGE:
                assert all(entry.msgstr.values()), entry
        else:
            assert list(entry.msgstr) == [0], entry


@pytest.mark.parametrize("language,domain", CATALOGUES, ids=CATALOGUE_IDS)
def test_translations_keep_the_placeholders_of_the_source(language: str, domain: str) -> None:
    _path, entries = catalogue(language, domain)
    wrong = []
    for entry in entries:
        if entry.is_header:
            continue
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        allowed = [placeholders(text) for text in sources]
        for text in entry.msgstr.values():
            if text and placeholders(text) not in allowed:
                wrong.append(f"{entry}: {text!r}")
    assert not wrong, f"placeholders differ from the msgid: {wrong}"


@pytest.mark.parametrize("language,domain", CATALOGUES, ids=CATALOGUE_IDS)
def test_the_compiled_catalogue_matches_the_po_file(language: str, domain: str) -> None:
    path, entries = catalogue(language, domain)
    mo = path.with_suffix(".mo")
    assert mo.exists(), f"{mo} is missing: run `make messages` (or compilemessages)"
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    # What msgfmt writes: every translated, non-fuzzy entry; plurals keyed (msgid, index).
    expected: dict[object, str] = {}
    for entry in entries:
        if entry.is_header or not entry.is_translated or "fuzzy" in entry.flags:
            continue
        if entry.msgid_plural is None:
            expected[entry.mo_key] = entry.msgstr[0]
        else:
            expected.update({(entry.mo_key, n): text for n, text in entry.msgstr.items()})
    actual = {key: text for key, text in compiled._catalog.items() if key != ""}  # type: ignore[attr-defined]
    stale = sorted(str(k) for k in expected.keys() - actual.keys())
    extra = sorted(str(k) for k in actual.keys() - expected.keys())
    changed = sorted(str(k) for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    assert not (stale or extra or changed), (
        f"{mo} is out of date, run `make messages`: missing {stale}, extra {extra}, "
        f"changed {changed}"
    )
    assert compiled.info().get("plural-forms") == "nplurals=2; plural=(n != 1);"


# --- pages -----------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "accept_language,lang,phrases",
    [
        ("sv", "sv", ["Lämna snabbt", "Starta chatten"]),
        ("en", "en", ["Quick exit", "Start chat"]),
        ("", "sv", ["Lämna snabbt"]),  # Swedish is the default
    ],
    ids=["sv", "en", "default"],
)
def test_the_client_page_speaks_the_chosen_language(
    client, accept_language: str, lang: str, phrases: list[str]
) -> None:
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = client.get("/", **headers)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{lang}" dir="ltr">' in html
    for phrase in phrases:
        assert phrase in html
    if lang == "sv":
        assert "Quick exit" not in html


def test_the_javascript_catalogue_carries_the_swedish_strings(client) -> None:
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="sv")
    assert response.status_code == 200
    script = response.content.decode()
    _path, entries = catalogue("sv", "djangojs")
    missing = [
        str(entry)
        for entry in entries
        if not entry.is_header
        for text in entry.msgstr.values()
        if json.dumps(text) not in script  # the catalogue is JSON with ASCII escapes
    ]
    assert not missing, f"not served by /jsi18n/: {missing}"
    assert json.dumps("Ansluter…") in script
    assert "(n != 1)" in script  # the plural rule, from the catalogue's header


def test_the_javascript_catalogue_is_empty_in_english(client) -> None:
    response = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert json.dumps("Ansluter…") not in response.content.decode()
