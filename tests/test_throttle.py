"""The typing throttle (chat/consumers/base.py): it starts long ago, so the first event
passes on a machine that booted a moment ago. The frame bucket (chat/ratelimit.py): a
burst, then the wait it names. The clock is faked, never the machine's."""

from types import SimpleNamespace

import pytest

from chat import ratelimit
from chat.consumers import base
from chat.ratelimit import TokenBucket


@pytest.fixture
def clock(monkeypatch):
    now = [0.5]  # half a second after boot: time.monotonic() counts from there
    monkeypatch.setattr(base, "monotonic", lambda: now[0])
    return now


def test_the_first_event_passes_even_right_after_boot(clock):
    assert base.Throttle(2.0).ready() is True


def test_a_second_event_inside_the_window_is_held_back(clock):
    throttle = base.Throttle(2.0)
    assert throttle.ready()
    clock[0] += 1.9
    assert throttle.ready() is False


def test_the_next_event_passes_once_the_window_is_over(clock):
    throttle = base.Throttle(2.0)
    assert throttle.ready()
    clock[0] += 1.0
    assert not throttle.ready()
    clock[0] += 1.0
    assert throttle.ready()


# --- the frame bucket (chat/ratelimit.py) ------------------------------------------------
@pytest.fixture
def bucket_clock(monkeypatch):
    now = [0.5]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_the_frame_bucket_lets_a_burst_through_then_names_the_wait(bucket_clock):
    bucket = TokenBucket(rate=5.0, burst=20)

    waits = [bucket.take() for _ in range(21)]

    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(0.2)  # one token comes back in a fifth of a second


def test_a_client_typing_and_writing_every_second_never_empties_the_bucket(bucket_clock):
    """A typing notice and a message each second is two frames a second; the bucket
    refills five."""
    bucket = TokenBucket(rate=5.0, burst=20)
    waits = []
    for _ in range(120):
        bucket_clock[0] += 1.0
        waits += [bucket.take(), bucket.take()]

    assert set(waits) == {0.0}
