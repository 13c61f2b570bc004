"""Thread list, creation, topic and deletion, against the emulator through the pages."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from chat.models import ThreadRecord
from chat.people import raw_id_of, service_raw_id
from tests.chat.helpers import create_thread, page, send
from tests.fixtures.outside import sdk_chat, sdk_thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_site_user):
    return make_site_user("alice", first_name="Alice")


@pytest.fixture
def bob(make_site_user):
    return make_site_user("bob", first_name="Bob")


def test_empty_thread_list_offers_a_new_thread(alice, signed_in):
    response = signed_in(alice).get(reverse("chat:threads"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "You are not in any conversation yet." in body
    assert reverse("chat:new") in body


def test_thread_list_shows_topic_and_unread_count(alice, bob, signed_in):
    a, b = signed_in(alice), signed_in(bob)
    thread_id = create_thread(a, "Lunch plans", {bob: "all"})
    send(a, thread_id, "one")
    send(a, thread_id, "two")
    body = b.get(reverse("chat:threads")).content.decode()
    assert "Lunch plans" in body
    assert '<span class="chat-badge" title="2 unread messages">2</span>' in body
    page(b, thread_id)  # opening the page sends no receipt: the page does, once it shows them
    assert "chat-badge" in b.get(reverse("chat:threads")).content.decode()
    newest = sdk_thread(bob, thread_id).list_messages(results_per_page=1).next().id
    sdk_thread(bob, thread_id).send_read_receipt(newest)
    body = b.get(reverse("chat:threads")).content.decode()
    assert "chat-badge" not in body
    # Alice's own messages never count as unread for her.
    assert "chat-badge" not in a.get(reverse("chat:threads")).content.decode()


def test_create_adds_service_identity_but_never_shows_it(alice, bob, signed_in):
    thread_id = create_thread(signed_in(alice), "Hidden helper", {bob: "all"})
    members = {p.identifier.raw_id for p in sdk_thread(None, thread_id).list_participants()}
    assert members == {raw_id_of(alice), raw_id_of(bob), service_raw_id()}
    record = ThreadRecord.objects.get(chat_thread_id=thread_id)
    assert (record.topic, record.creator) == ("Hidden helper", alice)
    people_page = signed_in(bob).get(reverse("chat:participants", args=[thread_id]))
    body = people_page.content.decode()
    assert "2 people" in body
    assert service_raw_id() not in body
    assert "Unknown person" not in page(signed_in(bob), thread_id)


def test_double_submit_creates_one_thread(alice, bob, signed_in):
    a = signed_in(alice)
    data = {
        "topic": "Once",
        "idempotency_token": str(uuid.uuid4()),
        f"people-pick_{bob.pk}": "on",
        f"people-history_{bob.pk}": "all",
    }
    first = a.post(reverse("chat:new"), data)
    second = a.post(reverse("chat:new"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert ThreadRecord.objects.filter(topic="Once").count() == 1
    topics = [t.topic for t in sdk_chat(bob).list_chat_threads()]
    assert topics.count("Once") == 1


def test_create_refuses_blank_topic(alice, signed_in):
    response = signed_in(alice).post(
        reverse("chat:new"), {"topic": "   ", "idempotency_token": str(uuid.uuid4())}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not ThreadRecord.objects.exists()


def test_topic_change_is_stored_and_shown_in_words(alice, bob, signed_in):
    a = signed_in(alice)
    thread_id = create_thread(a, "Old topic", {bob: "all"})
    response = a.post(reverse("chat:topic", args=[thread_id]), {"topic": "New <b>topic</b>"})
    assert response.status_code == 302
    assert sdk_thread(None, thread_id).get_properties().topic == "New <b>topic</b>"
    assert ThreadRecord.objects.get(chat_thread_id=thread_id).topic == "New <b>topic</b>"
    body = page(signed_in(bob), thread_id)
    assert "Alice changed the topic to “New &lt;b&gt;topic&lt;/b&gt;”" in body
    assert "New <b>topic</b>" not in body


def test_only_creator_or_staff_can_delete(alice, bob, make_site_user, signed_in):
    a, b = signed_in(alice), signed_in(bob)
    thread_id = create_thread(a, "Doomed", {bob: "all"})
    assert b.post(reverse("chat:delete", args=[thread_id])).status_code == 403
    assert b.get(reverse("chat:thread", args=[thread_id])).status_code == 200
    assert a.post(reverse("chat:delete", args=[thread_id])).status_code == 302
    assert b.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    assert ThreadRecord.objects.get(chat_thread_id=thread_id).deleted_on is not None
    assert "Doomed" not in b.get(reverse("chat:threads")).content.decode()


def test_staff_participant_can_delete_a_thread_they_did_not_create(
    alice, make_site_user, signed_in
):
    staff = make_site_user("sam", is_staff=True)
    thread_id = create_thread(signed_in(alice), "Moderated", {staff: "all"})
    assert signed_in(staff).post(reverse("chat:delete", args=[thread_id])).status_code == 302
    assert signed_in(alice).get(reverse("chat:thread", args=[thread_id])).status_code == 404


def test_non_participants_get_404_everywhere(alice, bob, make_site_user, signed_in):
    a = signed_in(alice)
    thread_id = create_thread(a, "Private", {bob: "all"})
    message_id = send(a, thread_id, "secret")
    eve = signed_in(make_site_user("eve"))
    for name, args in [
        ("chat:thread", [thread_id]),
        ("chat:participants", [thread_id]),
        ("chat:message", [thread_id, message_id]),
        ("chat:edit", [thread_id, message_id]),
        ("chat:delete", [thread_id]),
    ]:
        assert eve.get(reverse(name, args=args)).status_code == 404, name
    for name, args, data in [
        ("chat:thread", [thread_id], {"content": "hi", "format": "text"}),
        ("chat:topic", [thread_id], {"topic": "mine now"}),
        ("chat:leave", [thread_id], {}),
        ("chat:delete_message", [thread_id, message_id], {}),
    ]:
        assert eve.post(reverse(name, args=args), data).status_code == 404, name
    assert sdk_thread(None, thread_id).get_properties().topic == "Private"


def test_malformed_thread_id_is_404_without_asking_acs(alice, signed_in, acs_counts):
    client = signed_in(alice)
    calls = acs_counts()
    for url in (
        reverse("chat:thread", args=["not-a-thread"]),
        reverse("chat:participants", args=["19:bad id@thread.v2"]),
        reverse("chat:message", args=["19:..%2Fetc@thread.v2", "1"]),
    ):
        assert client.get(url).status_code == 404, url
    # Refused before any chat operation: the emulator saw none.
    chat_calls = {op: n for op, n in (acs_counts() - calls).items() if "Chat" in op}
    assert chat_calls == {}


def test_tampered_paging_cursor_is_400(alice, signed_in):
    response = signed_in(alice).get(reverse("chat:threads"), {"cursor": "https://evil.test/x"})
    assert response.status_code == 400


def test_anonymous_visitors_are_sent_to_sign_in(acs_site, client):
    response = client.get(reverse("chat:threads"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_an_unreadable_answer_spoils_only_its_part_of_a_page(alice, bob, signed_in, monkeypatch):
    """E.g. a timestamp the SDK cannot deserialise (a ValueError inside the SDK): the part that
    needed it says it could not be loaded; the page itself and every other part still work."""
    from azure.core.exceptions import DeserializationError

    from chat import gateway

    a = signed_in(alice)
    thread_id = create_thread(a, "Fragile", {bob: "all"})
    send(a, thread_id, "still here")

    def unreadable(self, *args, **kwargs):
        raise gateway.translate(DeserializationError("Unable to deserialize to object: datetime"))

    monkeypatch.setattr(gateway.ChatThread, "list_read_receipts", unreadable)
    body = page(a, thread_id)
    assert "Read receipts could not be loaded." in body
    assert "still here" in body
    listing = a.get(reverse("chat:threads"))
    assert listing.status_code == 200
    assert "The unread count could not be loaded." in listing.content.decode()

    monkeypatch.setattr(gateway.ChatThread, "list_messages", unreadable)
    body = page(a, thread_id)
    assert "The messages could not be loaded." in body
    assert "Fragile" in body
