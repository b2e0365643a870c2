"""The sign-out race across two daphne processes on PostgreSQL and Redis: a worker's console
is open on one server, they sign out through the other, and a client starts there the
moment after. The client waits in the queue; it is never given to the signed-out worker."""

from __future__ import annotations

import asyncio
import http.client
import re
import uuid

import pytest

from chat.models import Conversation, Message
from tests.factories import make_unit, make_user, new_token
from tests.queue_personas import staff_session_cookie
from tests.test_postgres_claims_multiprocess import Console, two_servers  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def sign_out_over_http(port: int, cookie: str) -> int:
    """What the browser does: the page's form carries the CSRF token, the POST signs out."""
    http_conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    http_conn.request("GET", "/accounts/login/", headers={"Cookie": cookie})
    page = http_conn.getresponse()
    body = page.read().decode()
    csrf_cookie = next(
        value.split(";", 1)[0]
        for name, value in page.getheaders()
        if name.lower() == "set-cookie" and value.startswith("csrftoken=")
    )
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert match, "the page has no CSRF token"
    http_conn.request(
        "POST",
        "/accounts/logout/",
        body=f"csrfmiddlewaretoken={match.group(1)}",
        headers={
            "Cookie": f"{cookie}; {csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"http://127.0.0.1:{port}",
        },
    )
    answer = http_conn.getresponse()
    answer.read()
    http_conn.close()
    return answer.status


def test_a_client_starting_as_the_worker_signs_out_on_another_server_is_not_given_to_them(
    two_servers,  # noqa: F811 - the fixture imported above
):
    console_port, other_port = two_servers
    unit = make_unit("Beroende", "beroende", auto_assign=True)
    anna = make_user("anna", units=[unit])
    cookie = staff_session_cookie(anna)

    async def scenario() -> int:
        console = await Console.open(console_port, cookie)
        await console.next_where(lambda f: f["type"] == "console.snapshot")
        # Read the console from now on: the server closes it and, when the close is not
        # answered within its close-handshake timeout, resets the connection, and a reset
        # hides a close frame the reader had not taken yet.
        closed = asyncio.ensure_future(console.next_where(lambda f: False))
        status = await asyncio.to_thread(sign_out_over_http, other_port, cookie)
        assert status in (200, 302)
        client = await Console.open(other_port, "", path="/ws/client/")
        client.send_frame(
            {
                "type": "start",
                "unit": unit.pk,
                "token": new_token(),
                "body": "Hej",
                "client_id": str(uuid.uuid4()),
            }
        )
        # The start's dispatch has run by the time the client reads its conversation.
        sync = await client.next_where(lambda f: f["type"] == "conversation.sync")
        with pytest.raises(ConnectionError):  # the signed-out console is closed
            await closed
        assert console.close_code == 4401
        await client.close()
        return sync["conversation"]

    conversation_id = asyncio.run(scenario())

    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.state == Conversation.State.QUEUED
    assert conversation.worker_id is None
    assert not Message.objects.filter(
        conversation=conversation, event=Message.Event.ACCEPTED
    ).exists()
