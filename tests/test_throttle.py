"""The typing throttle (chat/consumers/base.py): it starts long ago, so the first event
passes on a machine that booted a moment ago; the clock is faked, never the machine's."""

import pytest

from chat.consumers import base


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
