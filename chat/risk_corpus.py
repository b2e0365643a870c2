"""The risk rules measured on a corpus of short messages (chat/risk_corpus.tsv): for each
rule, how many of the messages it should fire on it fired on (recall) and how many of those
it fired on it should have (precision). "Fired" means a hit that is not held back (negated
or quoted): only those raise or alert."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chat.risk_defaults import CORPUS, DEFAULT_RULES, DefaultRule
from chat.risk_match import RiskMatcher, RuleSource


@dataclass(frozen=True)
class Example:
    line: int
    expected: frozenset[str]
    text: str


@dataclass
class Score:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    misses: list[Example] = field(default_factory=list)
    false_alarms: list[Example] = field(default_factory=list)

    @property
    def precision(self) -> float:
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 1.0


def corpus_read(path: Path = CORPUS) -> list[Example]:
    """The corpus lines: `keys<TAB>text`, keys comma-separated or `-`; # starts a comment."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        keys, _tab, text = line.partition("\t")
        if not text:
            raise ValueError(f"{path.name}:{number}: keys, a tab, then the message")
        expected = frozenset() if keys.strip() == "-" else frozenset(keys.strip().split(","))
        examples.append(Example(line=number, expected=expected, text=text))
    return examples


def corpus_score(
    examples: Iterable[Example], rules: Iterable[DefaultRule] = DEFAULT_RULES
) -> dict[str, Score]:
    """A score per rule key, and "all" for whether a message fired any rule at all."""
    rules = list(rules)
    matcher = RiskMatcher(
        RuleSource(id=n, label=r.key, action=r.action, phrases=r.phrases)
        for n, r in enumerate(rules)
    )
    scores = {rule.key: Score() for rule in rules}
    scores["all"] = Score()
    for example in examples:
        fired = frozenset(hit.label for hit in matcher.find(example.text) if not hit.held)
        for key, score in scores.items():
            should = bool(example.expected) if key == "all" else key in example.expected
            did = bool(fired) if key == "all" else key in fired
            if should and did:
                score.true_positives += 1
            elif did:
                score.false_positives += 1
                score.false_alarms.append(example)
            elif should:
                score.false_negatives += 1
                score.misses.append(example)
    return scores
