"""Risk phrases: the notation supervisors write, and finding them in a client's message.

Plain Python, no database: `RiskMatcher` is built once from a unit's rules (the service
caches it per unit, chat/services/risk.py) and answers `find(text)` in microseconds.

The notation, written so that a supervisor can read it:

- a phrase is one or more words, in order: `ta livet av mig`;
- `*` at the end of a word stands for any ending: `självmord*` finds "självmord",
  "självmordet", "självmordstankar";
- `|` between forms of one word lists them: `slå|slog|slagit|slår mig`;
- `...` between words lets up to three other words in between: `vill ... dö`
  finds "vill bara dö" and "vill helst av allt dö";
- capitals, accents of the same letter and the spacing do not matter; the words are whole
  words ("slag" does not find "slagit" unless written `slag*`).

What the matcher does with the words around a phrase (and what it does not do):

- **Negation.** A phrase is *negated* when one of the negation words (`NEGATIONS`: "inte",
  "aldrig", "ingen", "not", "never", "don't", ...) stands among the three words before it
  in the same clause, inside it where `...` let it in ("vill inte dö"), or right after it
  ("han slår mig inte"; but "inte bara" / "not only" is no negation). A clause ends at
  . ! ? ; : , a line break, a quotation mark, or a word that starts a new clause ("men",
  "att", "om", "but", "that", "if", ...), so "jag vet inte om jag vill leva"
  is *not* a negation of "vill leva".
- **Quoted speech.** A phrase inside a pair of quotation marks ("…", ”…”, “…”, «…», »…«,
  „…“) is *quoted*: a film title, a song, a threat someone else said.
- A negated or quoted phrase is *held back*: it is still marked for the worker, with
  why, but it raises nothing and alerts no-one (chat/services/risk.py). Reported speech
  without quotation marks ("han sa att han ska döda mig") counts as the client's own
  words, and so does irony, a double negation or a negation further away than three
  words: the rules only reorder a queue whose every message a person reads anyway.
- Apostrophes (' and ’) never open a quotation: they are part of words ("don't").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_PHRASE_LENGTH = 200
MAX_PHRASES = 200
MIN_STEM = 3  # letters before a `*`: "dö*" would find half the language
GAP_WORDS = 3  # what `...` lets in between

# Letters of words: \w without the underscore, plus apostrophes inside words.
_WORD = r"[^\W_]"
# A word: letters (and digits), with apostrophes inside ("don't"). Written without an
# alternation inside a repeat, which Python's re runs slowly.
_A_WORD = r"[^\W_]+(?:['’][^\W_]+)*"
_LEFT = rf"(?<!{_WORD})(?<!['’])"
_RIGHT = rf"(?!{_WORD})"
_BETWEEN = r"[\s,\-–]+"
_TOKEN = re.compile(_A_WORD)
_ALLOWED = re.compile(r"^[^\W_]+(?:[-'’][^\W_]+)*\*?$")

NEGATIONS = frozenset(
    {
        # Swedish
        "inte",
        "ej",
        "icke",
        "aldrig",
        "ingen",
        "inget",
        "inga",
        "int",
        # English
        "not",
        "never",
        "no",
        "nobody",
        "nothing",
        "don't",
        "dont",
        "doesn't",
        "doesnt",
        "didn't",
        "didnt",
        "won't",
        "wont",
        "wouldn't",
        "can't",
        "cant",
        "cannot",
        "isn't",
        "wasn't",
        "aren't",
        "haven't",
        "hasn't",
        "shouldn't",
        "couldn't",
    }
)
# Words after a negation that turn it into "not only" ("inte bara", "not just").
_NOT_ONLY = frozenset({"bara", "endast", "enbart", "only", "just", "merely"})
# Words that start a new clause: a negation before them says nothing of what follows.
CLAUSE_WORDS = frozenset(
    {
        "men",
        "utan",
        "att",
        "om",
        "och",
        "eller",
        "för",
        "eftersom",
        "när",
        "fast",
        "but",
        "that",
        "if",
        "whether",
        "and",
        "or",
        "because",
        "when",
        "though",
        "although",
    }
)
_CLAUSE_END = re.compile(r"[.!?;:,\n\"“”«»„]")
# Opening and closing marks of a quotation; ” and " open and close alike.
_QUOTE_PAIRS = {'"': '"', "”": "”", "“": "”", "„": "“", "«": "»", "»": "«"}


# The phrases' index: a word's first letters (words split at hyphens, as in the text).
_KEY_LENGTH = MIN_STEM
_INDEX_TOKEN = _TOKEN


def _index_key(form: str) -> str:
    return form.split("-")[0][:_KEY_LENGTH]


class PhraseError(ValueError):
    """A phrase the notation does not allow, with what is wrong in words, and as a `code`
    with the `word` it is about for a page to say in the reader's language."""

    def __init__(self, message: str, *, code: str, word: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.word = word


def _fold(text: str) -> str:
    """Case-folded; the text keeps its length, so positions found in it hold in the
    original (a folding that would change the length keeps the character)."""
    folded = text.casefold()
    if len(folded) == len(text):
        return folded  # the common case: one call, no loop in Python
    out = []
    for char in text:
        folded = char.casefold()
        out.append(folded if len(folded) == 1 else char.lower())
    return "".join(out)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def phrase_pattern(phrase: str) -> str:
    """The regular expression for one phrase in the notation, or PhraseError."""
    words = phrase.split()
    if not words:
        raise PhraseError("an empty phrase", code="empty")
    if len(phrase) > MAX_PHRASE_LENGTH:
        raise PhraseError(f"a phrase of at most {MAX_PHRASE_LENGTH} characters", code="too_long")
    if words[0] == "..." or words[-1] == "...":
        raise PhraseError("“...” goes between two words", code="gap_at_edge")
    parts: list[str] = []
    gap = False
    for word in words:
        if word == "...":
            if gap:
                raise PhraseError("one “...” between two words", code="gap_twice")
            gap = True
            continue
        forms = []
        for form in _fold(_normalise(word)).split("|"):
            if not _ALLOWED.match(form):
                raise PhraseError(
                    f"“{word}”: letters, with * at the end of a word and | between forms",
                    code="bad_word",
                    word=word,
                )
            if form.endswith("*"):
                stem = form[:-1]
                if len(stem) < MIN_STEM:
                    raise PhraseError(
                        f"“{form}”: at least {MIN_STEM} letters before *",
                        code="short_stem",
                        word=form,
                    )
                forms.append(re.escape(stem) + r"[^\W_]*")
            else:
                forms.append(re.escape(form))
        alternatives = "|".join(forms)
        if parts:
            parts.append(rf"(?:{_BETWEEN}{_A_WORD}){{0,{GAP_WORDS}}}" if gap else "")
            parts.append(_BETWEEN)
        parts.append(f"(?:{alternatives})")
        gap = False
    return _LEFT + "".join(parts) + _RIGHT


def phrase_lines(text: str) -> list[str]:
    """A rule's phrases, one per line, blank lines and surrounding spaces dropped; each
    checked (PhraseError names the first that is wrong)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    phrases = [line for line in lines if line]
    if not phrases:
        raise PhraseError("at least one phrase", code="no_phrase")
    if len(phrases) > MAX_PHRASES:
        raise PhraseError(f"at most {MAX_PHRASES} phrases in one rule", code="too_many")
    for phrase in phrases:
        phrase_pattern(phrase)
    return phrases


@dataclass(frozen=True)
class RuleSource:
    """What the matcher needs of a rule (plain values: it outlives the query)."""

    id: int
    label: str
    action: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    """One phrase found in a text, where (`start`, `end` in the text as given), and
    `held`: "" for a plain finding, "negated" or "quoted"."""

    rule_id: int
    label: str
    action: str
    phrase: str
    start: int
    end: int
    matched: str
    held: str


_QUOTE_MARKS = re.compile("[" + "".join(sorted({*_QUOTE_PAIRS, *_QUOTE_PAIRS.values()})) + "]")


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each closed quotation in `text`; an unclosed one is none."""
    spans = []
    marks = [(m.start(), m.group()) for m in _QUOTE_MARKS.finditer(text)]
    at = 0
    while at < len(marks):
        start, mark = marks[at]
        closing = _QUOTE_PAIRS.get(mark)
        end = (
            next((n for n in range(at + 1, len(marks)) if marks[n][1] == closing), None)
            if closing is not None
            else None
        )
        if end is None:
            at += 1
            continue
        spans.append((start, marks[end][0] + 1))
        at = end + 1
    return spans


def _clause_before(folded: str, start: int) -> list[str]:
    """The words of the clause before `start`, nearest last."""
    before = folded[:start]
    cut = max((m.end() for m in _CLAUSE_END.finditer(before)), default=0)
    words = _TOKEN.findall(before[cut:])
    for index in range(len(words) - 1, -1, -1):
        if words[index] in CLAUSE_WORDS:
            return words[index + 1 :]
    return words


def _clause_after(folded: str, end: int) -> list[str]:
    after = folded[end:]
    match = _CLAUSE_END.search(after)
    return _TOKEN.findall(after[: match.start()] if match else after)


def is_negated(folded: str, start: int, end: int) -> bool:
    """A negation word among the three words before the phrase in its clause, or right
    after it (not "inte bara", "not only")."""
    if any(word in NEGATIONS for word in _clause_before(folded, start)[-GAP_WORDS:]):
        return True
    after = _clause_after(folded, end)
    return bool(after) and after[0] in NEGATIONS and (len(after) < 2 or after[1] not in _NOT_ONLY)


class RiskMatcher:
    """A unit's rules compiled once. `find` splits the text into words once and looks each
    word's first three letters up in an index of the phrases' first words, so a message
    that holds no phrase costs one pass over its words; only the phrases whose first word
    could start there are searched."""

    def __init__(self, rules: Iterable[RuleSource]) -> None:
        self.phrases: list[tuple[RuleSource, str, re.Pattern[str]]] = []
        self.index: dict[str, list[int]] = {}
        for rule in rules:
            for phrase in rule.phrases:
                try:
                    pattern = phrase_pattern(phrase)
                except PhraseError:
                    continue  # saved before a stricter notation: skipped, never fatal
                number = len(self.phrases)
                self.phrases.append((rule, phrase, re.compile(pattern)))
                first = _fold(_normalise(phrase)).split()[0]
                for form in first.split("|"):
                    key = _index_key(form.rstrip("*"))
                    if number not in self.index.setdefault(key, []):
                        self.index[key].append(number)

    def candidates(self, folded: str) -> list[tuple[int, int]]:
        """(phrase, position) for each word of the text that could start a phrase."""
        found: list[tuple[int, int]] = []
        index = self.index
        for word in _INDEX_TOKEN.finditer(folded):
            numbers = index.get(word.group()[:_KEY_LENGTH])
            if numbers:
                found.extend((number, word.start()) for number in numbers)
        return found

    @staticmethod
    def _negated_inside(phrase: str, matched: str) -> bool:
        """A negation the phrase did not ask for, let in by `...`: "vill inte dö"."""
        asked = set(_TOKEN.findall(_fold(phrase)))
        return any(word in NEGATIONS and word not in asked for word in _TOKEN.findall(matched))

    def __len__(self) -> int:
        return len(self.phrases)

    def find(self, text: str) -> list[Hit]:
        """Every phrase found in `text`, in the order they appear; one hit per rule and
        place."""
        if not self.phrases:
            return []
        text = _normalise(text)
        folded = _fold(text)
        starts = self.candidates(folded)
        if not starts:
            return []
        quotes = quoted_spans(folded)
        hits: dict[tuple[int, int], Hit] = {}
        for number, at in starts:
            rule, phrase, pattern = self.phrases[number]
            match = pattern.match(folded, at)
            if match is not None:
                start, end = match.span()
                if (rule.id, start) in hits:
                    continue
                if any(q_start < start and end < q_end for q_start, q_end in quotes):
                    held = "quoted"
                elif is_negated(folded, start, end) or self._negated_inside(
                    phrase, folded[start:end]
                ):
                    held = "negated"
                else:
                    held = ""
                hits[(rule.id, start)] = Hit(
                    rule_id=rule.id,
                    label=rule.label,
                    action=rule.action,
                    phrase=phrase,
                    start=start,
                    end=end,
                    matched=text[start:end],
                    held=held,
                )
        return sorted(hits.values(), key=lambda hit: (hit.start, hit.rule_id))
