"""Sockets belong to the session that opened them (chat.sessions): sign-out, a password change
elsewhere, deactivation and expiry close them with 4401, and nothing is accepted afterwards."""

from __future__ import annotations

import pytest

from tests.live.conftest import WAIT, run, signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


async def closed_with(socket, within: float = WAIT) -> int:
    """The close code the server sends (fails the test if none comes in time)."""
    while True:
        output = await socket.communicator.receive_output(timeout=within)
        if output["type"] == "websocket.close":
            return output["code"]


async def test_signing_out_closes_that_sessions_sockets_and_no_other(people, ws, thread):
    laptop = await run(signed_in_client, people.alice)
    phone = await run(signed_in_client, people.alice)
    on_laptop = await ws(people.alice, session=laptop)
    on_phone = await ws(people.alice, session=phone)
    await on_laptop.subscribe(thread)
    await on_phone.subscribe(thread)

    response = await run(laptop.post, "/accounts/logout/")
    assert response.status_code == 302

    assert await closed_with(on_laptop) == 4401
    # Signing out revoked alice's ACS tokens everywhere; her phone still sends, with a new one.
    ack = await on_phone.request(
        {"action": "send", "thread": thread, "request": "p", "content": "from the phone"}
    )
    assert ack["ok"], ack


async def test_a_password_change_closes_the_users_sockets_and_only_that_session_comes_back(
    people, ws, thread
):
    here = await run(signed_in_client, people.alice)
    elsewhere = await run(signed_in_client, people.alice)
    socket_here = await ws(people.alice, session=here)
    socket_elsewhere = await ws(people.alice, session=elsewhere)
    await socket_elsewhere.subscribe(thread)

    response = await run(
        here.post,
        "/accounts/password_change/",
        {
            "old_password": "x",
            "new_password1": "a-new-long-secret-9",
            "new_password2": "a-new-long-secret-9",
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]

    assert await closed_with(socket_elsewhere) == 4401
    # Django moves the changing session to a new key, so this socket's old one is gone too;
    # the page reconnects with the new cookie, which the other session cannot.
    assert await closed_with(socket_here) == 4401
    again = await ws(people.alice, session=here)
    assert (await again.subscribe(thread))["thread"] == thread
    assert await closed_with(await ws(people.alice, session=elsewhere)) == 4401


async def test_deactivation_closes_every_socket_of_the_user(people, ws, thread):
    first, second = await ws(people.bob), await ws(people.bob)
    await first.subscribe(thread)

    def deactivate() -> None:
        people.bob.is_active = False
        people.bob.save()

    await run(deactivate)
    assert await closed_with(first) == 4401
    assert await closed_with(second) == 4401


async def test_an_expiring_session_closes_its_socket_when_it_expires(people, ws, thread):
    client = await run(signed_in_client, people.carol)

    def expire_soon() -> None:
        session = client.session
        session.set_expiry(2)
        session.save()

    await run(expire_soon)
    socket = await ws(people.carol, session=client)
    assert await closed_with(socket) == 4401


async def test_a_session_deleted_by_other_means_is_noticed_before_the_next_action(
    people, ws, thread, monkeypatch
):
    from django.contrib.sessions.models import Session

    from chat import sessions

    monkeypatch.setattr(sessions, "RECHECK_EVERY", 0.0)
    client = await run(signed_in_client, people.bob)
    socket = await ws(people.bob, session=client)
    await socket.subscribe(thread)
    await run(lambda: Session.objects.all().delete())  # e.g. clearsessions, or an admin
    await socket.send({"action": "send", "thread": thread, "request": "x", "content": "hi"})
    assert await closed_with(socket) == 4401
