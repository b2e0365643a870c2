"""The relay's ASGI application: one websocket consumer that joins groups and relays
frames through the channel layer, speaking just enough of the server's protocol that the
same load drives both (docs/performance.md, "make bench").

- `/ws/relay/`: `join` (`conversations`: ids) joins `conversation.{id}` for each and
  answers `conversation.sync`; `message` (`body`, `client_id`, optional `conversation`,
  else the first joined) sends `conversation.message` to the conversation's group and
  answers `ack` with a per-process `seq`; `ping` answers `pong`; `follow_queue` joins the
  group `queue` and answers `queue.position`; `announce` sends one `queue.position` to the
  group `queue`.
- `/ws/relay/staff/`: joins the group `staff` and sends `console.snapshot` at once, as a
  console does after its checks.

Nothing is stored, authenticated or checked: this is the floor of daphne, Channels and
the Redis layer.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relay.settings")
django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

SEQS: defaultdict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))


class RelayConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.conversations: list[int] = []
        await self.accept()
        if self.scope["path"].rstrip("/").endswith("staff"):
            await self.channel_layer.group_add("staff", self.channel_name)
            await self.send_json({"type": "console.snapshot"})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "message":
            await self.message(content)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "join":
            for conversation in content.get("conversations", []):
                await self.channel_layer.group_add(
                    f"conversation.{int(conversation)}", self.channel_name
                )
                self.conversations.append(int(conversation))
            first = self.conversations[0] if self.conversations else None
            await self.send_json({"type": "conversation.sync", "conversation": first})
        elif kind == "follow_queue":
            await self.channel_layer.group_add("queue", self.channel_name)
            await self.send_json({"type": "queue.position", "position": 0})
        elif kind == "announce":
            await self.channel_layer.group_send(
                "queue", {"type": "queue.position", "position": content.get("position", 0)}
            )
        else:
            await self.send_json({"type": "error", "code": "unknown_type"})

    async def message(self, content: dict[str, Any]) -> None:
        conversation = content.get("conversation")
        if conversation is None and self.conversations:
            conversation = self.conversations[0]
        if not isinstance(conversation, int):
            await self.send_json({"type": "error", "code": "no_conversation"})
            return
        seq = next(SEQS[conversation])
        client_id = str(content.get("client_id", ""))
        await self.channel_layer.group_send(
            f"conversation.{conversation}",
            {
                "type": "conversation.message",
                "conversation": conversation,
                "message": {"seq": seq, "client_id": client_id, "body": content.get("body")},
            },
        )
        await self.send_json(
            {"type": "ack", "conversation": conversation, "client_id": client_id, "seq": seq}
        )

    async def conversation_message(self, event: dict[str, Any]) -> None:
        await self.send_json(event)

    async def queue_position(self, event: dict[str, Any]) -> None:
        await self.send_json(event)


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter(
            [
                path("ws/relay/", RelayConsumer.as_asgi()),
                path("ws/relay/staff/", RelayConsumer.as_asgi()),
            ]
        )
    }
)
