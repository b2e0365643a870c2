"""Case codes (chat/services/cases.py): how they look, what is stored, and how
case_open_by_code refuses guesses. Every refusal is the same error, so a guess learns
nothing; tries are limited per code (settings.CASE_CODE_TRIES within
CASE_CODE_LOCKOUT_SECONDS) and per address (CASE_CODE_ADDRESS_TRIES, high enough for a shared
address, and CASE_CODE_TRIES once the address has shown abuse)."""

from __future__ import annotations

import hashlib
import hmac
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.errors import ChatError
from chat.models import Case
from chat.services.cases import (
    CODE_ALPHABET,
    CODE_ENTROPY_BITS,
    case_code_hash,
    case_code_normalise,
    case_issue_code,
    case_open_by_code,
)
from tests import factories
from tests.case_personas import (
    code_pattern,
    database_text,
    lockout_passes,
    wrong_code,
)

pytest_plugins = ["tests.case_personas"]

CODE = st.text(alphabet=CODE_ALPHABET, min_size=12, max_size=12)


@pytest.fixture
def case(db, ekonomi):
    conversation, _token = factories.start_conversation(ekonomi)
    return conversation.case


@pytest.fixture
def code(case):
    return case_issue_code(case=case)


def refusal(code, address):
    """The error case_open_by_code raises for this try (fails if it opens a case)."""
    with pytest.raises(ChatError) as caught:
        case_open_by_code(code=code, address=address)
    return caught.value


def signature(error: ChatError):
    return (type(error), error.code, str(error), error.message, error.http_status)


# --- how a code looks ---------------------------------------------------------------------
def test_it_issues_codes_of_three_groups_of_four_from_the_alphabet(case):
    codes = {case_issue_code(case=case) for _ in range(40)}

    assert len(codes) == 40
    for code in codes:
        assert code_pattern().fullmatch(code), code


def test_it_has_at_least_59_bits_of_entropy():
    assert CODE_ENTROPY_BITS >= 59
    assert math.isclose(CODE_ENTROPY_BITS, 12 * math.log2(len(CODE_ALPHABET)))


def test_the_alphabet_leaves_out_characters_that_are_easy_to_mistake():
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 31
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert CODE_ALPHABET.upper() == CODE_ALPHABET


# --- what is stored -----------------------------------------------------------------------
def test_it_stores_only_a_keyed_hash_of_the_code(settings, case, code):
    case.refresh_from_db()
    normalised = code.replace("-", "")
    key = (settings.CASE_CODE_PEPPER or settings.SECRET_KEY).encode()

    assert case.code_hash == hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()
    assert case.code_hash != hashlib.sha256(normalised.encode()).hexdigest()
    assert case.code_created_at is not None

    settings.CASE_CODE_PEPPER = "another pepper"
    assert case_code_hash(code) != case.code_hash  # keyed: the key changes the hash


def test_the_code_text_appears_nowhere_in_the_database(ekonomi, case, code):
    other, _token = factories.start_conversation(ekonomi)
    other_code = case_issue_code(case=other.case)

    for row in Case.objects.values():
        for value in row.values():
            for text in (code, other_code):
                assert text not in str(value)
                assert text.replace("-", "") not in str(value)
    everything = database_text()
    for text in (code, other_code):
        assert text not in everything
        assert text.replace("-", "") not in everything
        assert text.lower() not in everything


def test_a_new_code_replaces_the_old_one(code_tries, case, code):
    address = factories.new_address()
    newer = case_issue_code(case=case)

    assert newer != code
    assert case_open_by_code(code=newer, address=address) == case
    assert refusal(code, address).code == "code_refused"


# --- normalisation ---------------------------------------------------------------------------
@given(
    raw=CODE,
    lower=st.lists(st.booleans(), min_size=12, max_size=12),
    separators=st.lists(
        st.sampled_from(["", "-", " ", "  ", " - ", "\t"]), min_size=13, max_size=13
    ),
)
def test_it_reads_a_code_with_lowercase_spaces_and_any_dashes_as_the_same_code(
    raw, lower, separators
):
    canonical = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
    typed = (
        "".join(separators[i] + (ch.lower() if lower[i] else ch) for i, ch in enumerate(raw))
        + separators[12]
    )

    assert case_code_normalise(typed) == raw
    assert case_code_hash(typed) == case_code_hash(canonical)


@given(a=CODE, b=CODE)
def test_different_codes_have_different_hashes(a, b):
    assert (case_code_hash(a) == case_code_hash(b)) == (a == b)


@pytest.mark.parametrize(
    "typed",
    [
        lambda c: c.lower(),
        lambda c: c.replace("-", ""),
        lambda c: c.replace("-", " "),
        lambda c: f"  {c.lower().replace('-', '')}  ",
        lambda c: " ".join(c.replace("-", "")),
    ],
    ids=["lowercase", "no-dashes", "spaces", "padded-lowercase", "spaced-out"],
)
def test_it_opens_the_case_however_the_client_typed_the_code(code_tries, case, code, typed):
    assert case_open_by_code(code=typed(code), address=factories.new_address()) == case


# --- opening -------------------------------------------------------------------------------
def test_it_opens_the_right_case(code_tries, ekonomi, vald, case, code):
    other, _token = factories.start_conversation(vald)
    other_code = case_issue_code(case=other.case)
    address = factories.new_address()

    assert case_open_by_code(code=code, address=address) == case
    assert case_open_by_code(code=other_code, address=address) == other.case


# What is not text at all never gets here: the return page reads the form's text
# (tests/test_case_pages.py, test_a_form_that_holds_no_code_gets_the_one_refusal).
@pytest.mark.parametrize(
    "bad", ["", "   ", "12345678", "['ABCD']", "{'code': 'x'}", "ÅÄÖ-ÅÄÖÄ-ÖÅÄÖ", "x" * 500]
)
def test_it_refuses_anything_that_is_not_a_code_with_the_one_refusal(code_tries, case, bad):
    assert refusal(bad, factories.new_address()).code == "code_refused"


def test_every_refusal_is_the_same_error_with_the_same_message(settings, code_tries, case, code):
    settings.CASE_CODE_TRIES = settings.CASE_CODE_ADDRESS_TRIES = 2
    wrong = refusal(wrong_code(), factories.new_address())
    empty = refusal("", factories.new_address())

    locked_address = factories.new_address()
    for _ in range(2):
        refusal(wrong_code(), locked_address)
    by_locked_address = refusal(code, locked_address)  # the right code, from a locked address
    again_locked_address = refusal(code, locked_address)

    popular = wrong_code()
    for _ in range(2):
        refusal(popular, factories.new_address())
    by_locked_code = refusal(popular, factories.new_address())

    assert wrong.code == "code_refused"
    assert (
        signature(wrong)
        == signature(empty)
        == signature(by_locked_address)
        == signature(again_locked_address)
        == signature(by_locked_code)
    )


def test_after_the_tries_from_one_address_even_the_right_code_is_refused_until_the_lockout_passes(
    settings, code_tries, case, code
):
    address = factories.new_address()
    for _ in range(settings.CASE_CODE_ADDRESS_TRIES):
        refusal(wrong_code(), address)

    for _ in range(3):
        assert refusal(code, address).code == "code_refused"

    lockout_passes(address)
    assert case_open_by_code(code=code, address=address) == case


def test_a_locked_address_leaves_other_addresses_alone(settings, code_tries, case, code):
    locked = factories.new_address()
    for _ in range(settings.CASE_CODE_ADDRESS_TRIES + 1):
        refusal(wrong_code(), locked)

    assert refusal(code, locked).code == "code_refused"
    assert case_open_by_code(code=code, address=factories.new_address()) == case


def test_the_tries_before_the_lockout_follow_the_setting(settings, code_tries, case, code):
    settings.CASE_CODE_ADDRESS_TRIES = 2
    address = factories.new_address()
    refusal(wrong_code(), address)
    assert case_open_by_code(code=code, address=address) == case  # the second try

    third = factories.new_address()
    refusal(wrong_code(), third)
    refusal(wrong_code(), third)
    assert refusal(code, third).code == "code_refused"  # the third try


def test_tries_from_other_addresses_on_one_code_are_limited_too(settings, code_tries, case, code):
    guessed = wrong_code()
    for _ in range(settings.CASE_CODE_TRIES):
        refusal(guessed, factories.new_address())

    # Each address has tries left, yet this code takes no more of them.
    refusal(guessed, factories.new_address())


def test_a_client_who_opens_their_case_often_is_never_locked_out(settings, code_tries, case, code):
    address = factories.new_address()
    for _ in range(settings.CASE_CODE_TRIES * 2):
        assert case_open_by_code(code=code, address=address) == case
    for _ in range(settings.CASE_CODE_TRIES * 2):
        assert case_open_by_code(code=code, address=factories.new_address()) == case


def test_with_the_cache_down_codes_still_open_and_tries_still_count(settings, case, code):
    """Redis down: the tries count in this process (the one counter of chat/ratelimit.py),
    so a client still gets in and a guesser is still stopped."""
    import socket

    from chat import ratelimit, realtime

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    realtime.outage.failing.clear()
    ratelimit.local_counts.clear()
    settings.CASE_CODE_ADDRESS_TRIES = 2
    try:
        assert case_open_by_code(code=code, address=factories.new_address()) == case
        guesser = factories.new_address()
        for _ in range(2):
            refusal(wrong_code(), guesser)
        assert refusal(code, guesser).code == "code_refused"  # locked out, right code or not
        assert realtime.outage.down
    finally:
        realtime.outage.failing.clear()
        ratelimit.local_counts.clear()


def test_forty_clients_behind_one_address_each_mistyping_once_all_get_in(settings, db, code_tries):
    """A shelter's or a school's clients share one address: one slip each locks no one out."""
    from tests.factories import make_unit, start_conversation

    unit = make_unit("Skyddat boende", "skyddat")
    shared = factories.new_address()
    codes = [
        (conversation.case, case_issue_code(case=conversation.case))
        for conversation, _token in (start_conversation(unit) for _ in range(40))
    ]
    assert settings.CASE_CODE_ADDRESS_TRIES >= 40 > settings.CASE_CODE_TRIES
    for case, code in codes:
        refusal(wrong_code(), shared)
        assert case_open_by_code(code=code, address=shared) == case


def test_reaching_the_address_ceiling_is_a_strike_and_an_abusive_address_gets_the_low_limit(
    settings, code_tries, case, code
):
    from chat.ratelimit import counted, strike, strike_key

    settings.CASE_CODE_ADDRESS_TRIES = 3
    guesser = factories.new_address()
    for _ in range(3):
        refusal(wrong_code(), guesser)
    assert counted(strike_key(guesser)) == 1
    assert refusal(code, guesser).code == "code_refused"

    settings.CASE_CODE_ADDRESS_TRIES = 50
    abuser = factories.new_address()
    for _ in range(settings.RATE_ABUSE_STRIKES):
        strike(abuser)
    for _ in range(settings.CASE_CODE_TRIES):
        refusal(wrong_code(), abuser)
    assert refusal(code, abuser).code == "code_refused"  # far below the shared ceiling
    assert case_open_by_code(code=code, address=factories.new_address()) == case
