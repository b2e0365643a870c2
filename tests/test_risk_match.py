"""chat/risk_match.py: the phrase notation supervisors write, and how the matcher reads
inflections, negations and quoted speech. No database."""

import pytest

from chat.risk_corpus import corpus_read, corpus_score
from chat.risk_defaults import DEFAULT_RULES, MIN_PRECISION, MIN_RECALL
from chat.risk_match import PhraseError, RiskMatcher, RuleSource, phrase_lines, phrase_pattern


def matcher(*phrases: str, action: str = "urgent") -> RiskMatcher:
    return RiskMatcher([RuleSource(id=1, label="risk", action=action, phrases=phrases)])


def found(m: RiskMatcher, text: str) -> list[tuple[str, str]]:
    return [(hit.matched, hit.held) for hit in m.find(text)]


# --- inflections ----------------------------------------------------------------------------
def test_a_stem_with_a_star_finds_every_ending_and_nothing_before_it():
    m = matcher("självmord*")
    assert found(m, "Självmordstankar igen") == [("Självmordstankar", "")]
    assert found(m, "jag tänker på självmord.") == [("självmord", "")]
    assert found(m, "ett försök till självmordet") == [("självmordet", "")]
    assert found(m, "antisjälvmordskampanj") == []


def test_forms_of_a_word_are_listed_with_a_bar_and_words_are_whole():
    m = matcher("slår|slog|slagit mig")
    assert found(m, "Han slog mig igår") == [("slog mig", "")]
    assert found(m, "han har slagit mig") == [("slagit mig", "")]
    assert found(m, "han slogs mig") == []
    assert found(m, "hon slog rekord") == []


def test_three_dots_let_up_to_three_words_in_between():
    m = matcher("vill ... dö")
    assert found(m, "jag vill dö") == [("vill dö", "")]
    assert found(m, "jag vill helst av allt dö") == [("vill helst av allt dö", "")]
    assert found(m, "jag vill gå ut och se vad som händer innan jag dö") == []


def test_case_and_spacing_do_not_matter_but_the_words_keep_their_own_spelling():
    m = matcher("ta livet av mig")
    assert found(m, "TA  LIVET\nAV mig") == [("TA  LIVET\nAV mig", "")]
    hit = m.find("Jag vill ta livet av mig nu")[0]
    assert (hit.start, hit.end) == (9, 24)


def test_english_contractions_are_words_of_their_own():
    m = matcher("don't want to live")
    assert found(m, "I don't want to live") == [("don't want to live", "")]
    assert found(m, "I dont want to live") == []


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("", "an empty phrase"),
        ("dö*", "at least 3 letters before *"),
        ("... dö", "goes between two words"),
        ("vill ...", "goes between two words"),
        ("döda (mig)", "letters, with * at the end"),
        ("sj*lvmord", "letters, with * at the end"),
        ("a" * 201, "at most 200 characters"),
    ],
)
def test_a_phrase_outside_the_notation_is_refused_with_what_is_wrong(phrase, problem):
    with pytest.raises(PhraseError, match=problem.replace("(", r"\(").replace("*", r"\*")):
        phrase_pattern(phrase)


def test_phrase_lines_drop_blank_lines_and_need_one_phrase():
    assert phrase_lines("  självmord*  \n\n ta  livet av mig\n") == [
        "självmord*",
        "ta livet av mig",
    ]
    with pytest.raises(PhraseError, match="at least one phrase"):
        phrase_lines(" \n \n")


# --- negations ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Jag tänker inte ta livet av mig",
        "Jag skulle aldrig ta livet av mig",
        "I would never kill myself",
        "I don't want to kill myself",
        "Han slår mig inte",
    ],
)
def test_a_negated_phrase_is_only_held_back(text):
    m = matcher("ta livet av mig", "kill myself", "slår mig")
    assert [held for _matched, held in found(m, text)] == ["negated"]


def test_a_negation_let_in_by_three_dots_negates():
    assert found(matcher("vill ... dö"), "jag vill inte dö") == [("vill inte dö", "negated")]


def test_a_negation_the_phrase_asks_for_is_the_phrase():
    assert found(matcher("vill inte leva"), "jag vill inte leva") == [("vill inte leva", "")]


@pytest.mark.parametrize(
    "text",
    [
        "Jag vet inte om jag vill dö",  # the negation is of "vet", before a new clause
        "Jag är inte rädd, men han slår mig",  # a comma and "men" end the clause
        "Han slår mig inte bara när han är full",  # "inte bara": not only
        "Inte i morse och inte nu men igår ville jag dö",  # too far, another clause
    ],
)
def test_a_negation_of_something_else_is_no_negation(text):
    m = matcher("vill|ville ... dö", "slår mig")
    assert [held for _matched, held in found(m, text)] == [""]


# --- quoted speech --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "Vi såg filmen ”Självmordsklubben” igår",
        'Boken heter "Självmord i Ystad"',
        "Låten «Självmord» spelades",
        "Han läste »Självmordet« högt",
    ],
)
def test_a_phrase_in_quotation_marks_is_only_held_back(text):
    assert [held for _matched, held in found(matcher("självmord*"), text)] == ["quoted"]


def test_an_apostrophe_or_an_unclosed_quotation_mark_quotes_nothing():
    m = matcher("kill myself")
    assert found(m, "It's like 'I want to kill myself' all day") == [("kill myself", "")]
    assert found(m, 'He said "I want to kill myself') == [("kill myself", "")]


def test_quoted_speech_outside_the_quotation_marks_is_the_clients_own():
    m = matcher("döda mig")
    hits = found(m, 'Han skrev "hej" och sen att han ska döda mig')
    assert hits == [("döda mig", "")]


# --- the matcher as a whole ---------------------------------------------------------------
def test_each_rule_hits_once_a_place_and_hits_come_in_text_order():
    m = RiskMatcher(
        [
            RuleSource(id=1, label="suicide", action="urgent", phrases=("vill ... dö", "dö")),
            RuleSource(id=2, label="violence", action="alert", phrases=("slår mig",)),
        ]
    )
    hits = m.find("Han slår mig och jag vill dö")
    assert [(h.label, h.matched, h.action) for h in hits] == [
        ("violence", "slår mig", "alert"),
        ("suicide", "vill dö", "urgent"),
        ("suicide", "dö", "urgent"),
    ]


def test_a_unit_without_rules_finds_nothing_and_a_bad_stored_phrase_is_skipped():
    assert RiskMatcher([]).find("självmord") == []
    m = RiskMatcher([RuleSource(id=1, label="x", action="mark", phrases=("dö*", "självmord"))])
    assert len(m) == 1
    assert found(m, "självmord") == [("självmord", "")]


def test_the_default_rules_are_all_in_the_notation():
    for rule in DEFAULT_RULES:
        assert phrase_lines("\n".join(rule.phrases)) == list(rule.phrases)


def test_the_default_rules_keep_the_stated_minimum_on_the_corpus():
    examples = corpus_read()
    assert len(examples) >= 80
    assert sum(1 for e in examples if not e.expected) >= 30  # with no risk, negated, quoted
    scores = corpus_score(examples)
    for key, score in scores.items():
        assert score.precision >= MIN_PRECISION, (key, score.false_alarms)
        assert score.recall >= MIN_RECALL, (key, score.misses)
