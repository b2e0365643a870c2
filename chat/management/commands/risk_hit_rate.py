"""Print how well the default risk rules do on the corpus (chat/risk_corpus.tsv)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from chat.risk_corpus import corpus_read, corpus_score
from chat.risk_defaults import CORPUS, DEFAULT_RULES
from chat.risk_match import RiskMatcher, RuleSource


class Command(BaseCommand):
    help = (
        "Print the default risk rules' precision and recall on the test corpus of short "
        "messages, per rule, with the messages they missed or fired on wrongly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, default=CORPUS, help="a corpus file")

    def handle(self, *args: Any, **options: Any) -> None:
        examples = corpus_read(options["corpus"])
        scores = corpus_score(examples)
        self.stdout.write(f"{len(examples)} messages in {options['corpus'].name}")
        self.stdout.write(f"{'rule':<10} {'precision':>9} {'recall':>7}  tp  fp  fn")
        for key, score in scores.items():
            self.stdout.write(
                f"{key:<10} {score.precision:>9.2f} {score.recall:>7.2f} "
                f"{score.true_positives:>3} {score.false_positives:>3} "
                f"{score.false_negatives:>3}"
            )
        for key, score in scores.items():
            if key == "all":
                continue
            for example in score.misses:
                self.stdout.write(f"  missed ({key}) line {example.line}: {example.text}")
            for example in score.false_alarms:
                self.stdout.write(f"  fired ({key}) line {example.line}: {example.text}")
        matcher = RiskMatcher(
            RuleSource(id=n, label=r.key, action=r.action, phrases=r.phrases)
            for n, r in enumerate(DEFAULT_RULES)
        )
        started = time.perf_counter()
        rounds = 20
        for _round in range(rounds):
            for example in examples:
                matcher.find(example.text)
        per_message = (time.perf_counter() - started) / (rounds * len(examples))
        self.stdout.write(
            f"{len(matcher)} phrases; {per_message * 1e6:.0f} µs a message on this machine"
        )
