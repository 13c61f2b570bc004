"""The websocket through a real Daphne process and a real websocket client (aiohttp).

The site runs as deployed in development: Daphne serving ``chatsite.asgi`` on its own SQLite
database, the relay polling the session's emulator. The client signs in with a session cookie
and sends an Origin header, as a browser does.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from azure.communication.chat import ChatClient, CommunicationTokenCredential

from livesite import Thread, sqlite_database
from tests.live.harness import running_site

pytestmark = [pytest.mark.slow, pytest.mark.own_site]
WAIT = 20.0


async def frames_until(ws: aiohttp.ClientWebSocketResponse, found, limit: float = WAIT) -> list:
    """Frames read until `found(frame)` is true (the last one is the match)."""
    got = []
    async with asyncio.timeout(limit):
        while True:
            message = await ws.receive()
            assert message.type == aiohttp.WSMsgType.TEXT, message
            frame = json.loads(message.data)
            got.append(frame)
            if found(frame):
                return got


def headers(site, session: str | None, origin: str | None = None) -> dict[str, str]:
    result = {"Origin": origin or site.servers[0].url}
    if session:
        result["Cookie"] = f"sessionid={session}"
    return result


async def test_daphne_serves_the_websocket_end_to_end(acs_emulator, tmp_path):
    with running_site(acs_emulator, sqlite_database(tmp_path), tmp_path) as site:
        seeded = site.seed(["alice", "bob"], [Thread("Daphne", "alice", ["bob"])])
        thread = seeded.threads[0]
        alice, bob = seeded.users["alice"], seeded.users["bob"]
        url = site.servers[0].ws_url
        async with aiohttp.ClientSession() as http:
            # No session: accepted, then closed with 4401.
            async with http.ws_connect(url, headers=headers(site, None)) as ws:
                closing = await ws.receive(timeout=WAIT)
                assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4401
            # A foreign Origin never gets a socket.
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(
                    url, headers=headers(site, alice.session, "https://evil.example")
                )
            assert refused.value.status == 403

            async with (
                http.ws_connect(url, headers=headers(site, alice.session)) as a,
                http.ws_connect(url, headers=headers(site, bob.session)) as b,
            ):
                for ws in (a, b):
                    await ws.send_json({"action": "subscribe", "thread": thread, "cursor": None})
                    await frames_until(ws, lambda f: f["type"] == "subscribed")

                # Send through Kwebbel: acknowledged to alice, pushed to bob.
                await a.send_json(
                    {"action": "send", "thread": thread, "request": "s1", "content": "hi bob",
                     "clientId": "c-1"}
                )  # fmt: skip
                ack = (await frames_until(a, lambda f: f["type"] == "ack"))[-1]
                assert ack["ok"] and ack["result"]["clientId"] == "c-1"
                message_id = ack["result"]["id"]
                got = await frames_until(
                    b, lambda f: f["type"] == "event" and f["data"].get("id") == message_id
                )
                assert got[-1]["kind"] == "message.added"
                assert got[-1]["data"]["html"] == "<p>hi bob</p>"

                # Typing and a read receipt from bob reach alice.
                await b.send_json({"action": "typing", "thread": thread})
                typing = (await frames_until(a, lambda f: f["type"] == "typing"))[-1]
                assert typing["user"] == bob.raw_id
                await b.send_json({"action": "read", "thread": thread, "message": message_id})
                receipt = (
                    await frames_until(
                        a, lambda f: f.get("kind") == "receipt" and not f["data"]["me"]
                    )
                )[-1]
                assert receipt["data"]["messageId"] == message_id

                # Straight to ACS with bob's own token: the relay's poll brings it to alice.
                with ChatClient(
                    acs_emulator.endpoint,
                    CommunicationTokenCredential(bob.token),
                    connection_verify=acs_emulator.ca_bundle,
                ) as sdk:
                    direct = (
                        sdk.get_chat_thread_client(thread, connection_verify=acs_emulator.ca_bundle)
                        .send_message("from a script")
                        .id
                    )
                got = await frames_until(
                    a, lambda f: f["type"] == "event" and f["data"].get("id") == direct
                )
                assert got[-1]["data"]["sender"]["rawId"] == bob.raw_id

                # A malformed frame gets an error; the socket stays open.
                await a.send_str("{nope")
                error = (await frames_until(a, lambda f: f["type"] == "error"))[-1]
                assert error["error"] == "The frame is not valid JSON."
                assert not a.closed


async def test_a_frame_over_the_servers_limit_closes_with_1009_and_a_new_socket_works(
    acs_emulator, tmp_path
):
    with running_site(acs_emulator, sqlite_database(tmp_path), tmp_path) as site:
        seeded = site.seed(["alice"], [])
        alice = seeded.users["alice"]
        url = site.servers[0].ws_url
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(
                url, headers=headers(site, alice.session), max_msg_size=0
            ) as ws:
                await ws.send_str("x" * (2 * 1024 * 1024))  # Daphne's limit is 1 MiB
                closing = await ws.receive(timeout=WAIT)
                # A close frame that says why (not a dropped connection, 1006 in a browser).
                assert closing.type == aiohttp.WSMsgType.CLOSE, closing
                assert closing.data == 1009
            async with http.ws_connect(url, headers=headers(site, alice.session)) as again:
                await again.send_str("[]")
                error = (await frames_until(again, lambda f: f["type"] == "error"))[-1]
                assert error["error"] == "A frame must be a JSON object."
