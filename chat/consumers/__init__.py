"""Websocket interfaces, one module per endpoint. Each consumer authenticates, dispatches a
frame's `type` to one service or selector call (one crossing into sync code per action),
and relays group events. No rule and no query lives here. See docs/realtime.md."""

from chat.consumers.base import CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED, CLOSE_TOO_MANY
from chat.consumers.client import ClientConsumer
from chat.consumers.console import ConsoleConsumer
from chat.consumers.dashboard import DashboardConsumer
from chat.consumers.interpreter import InterpreterConsumer

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_AUTHENTICATED",
    "CLOSE_TOO_MANY",
    "ClientConsumer",
    "ConsoleConsumer",
    "DashboardConsumer",
    "InterpreterConsumer",
]
