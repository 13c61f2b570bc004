"""Participants: adding with a history choice, partial failures, removal, leaving, access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from chat.actions.participants import do_add_participants, share_history_time_for
from chat.actions.threads import ParticipantChoice, access_thread
from chat.people import raw_id_of
from tests.chat.helpers import create_thread, page, send
from tests.fixtures.outside import sdk_thread
from tokens import services as token_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def trio(make_site_user, signed_in):
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    carol = make_site_user("carol", first_name="Carol")
    a = signed_in(alice)
    thread_id = create_thread(a, "Team", {bob: "all"})
    return a, signed_in(bob), signed_in(carol), thread_id, alice, bob, carol


def add(client, thread_id, user, history, since=""):
    return client.post(
        reverse("chat:participants", args=[thread_id]),
        {
            f"people-pick_{user.pk}": "on",
            f"people-history_{user.pk}": history,
            f"people-since_{user.pk}": since,
        },
    )


def test_participants_page_lists_people(trio):
    a, _, _, thread_id, *_ = trio
    body = a.get(reverse("chat:participants", args=[thread_id])).content.decode()
    assert 'data-participant="Alice"' in body and 'data-participant="Bob"' in body
    assert "Carol" in body  # offered in the add form
    assert 'data-participant="Carol"' not in body


def test_added_with_no_history_never_sees_earlier_messages(trio):
    a, _, c, thread_id, alice, bob, carol = trio
    early_id = send(a, thread_id, "before carol")
    assert add(a, thread_id, carol, "none").status_code == 302
    send(a, thread_id, "after carol")
    body = page(c, thread_id)
    assert "after carol" in body
    assert "before carol" not in body
    assert c.get(reverse("chat:message", args=[thread_id, early_id])).status_code == 404
    assert c.get(reverse("chat:edit", args=[thread_id, early_id])).status_code == 404


def test_added_with_all_history_sees_everything(trio):
    a, _, c, thread_id, alice, bob, carol = trio
    send(a, thread_id, "old news")
    add(a, thread_id, carol, "all")
    assert "old news" in page(c, thread_id)


def test_history_from_a_time_is_the_boundary_on_every_page(trio):
    a, _, c, thread_id, alice, bob, carol = trio
    client = sdk_thread(alice, thread_id)
    hidden_ids = [client.send_message(f"secret number {n}").id for n in range(3)]
    # One millisecond after the last hidden message (message ids are epoch milliseconds).
    boundary = datetime.fromtimestamp((int(hidden_ids[-1]) + 1) / 1000, tz=UTC)
    while sdk_thread(alice, thread_id).send_message("shown").id <= hidden_ids[-1]:
        pass
    access = access_thread(alice, thread_id)
    failures = do_add_participants(
        access, [ParticipantChoice(carol, share_history_time_for("since", boundary))]
    )
    assert failures == []
    body = page(c, thread_id)
    assert "shown" in body
    assert "secret number" not in body
    assert "You see messages from" in body
    for message_id in hidden_ids:
        assert c.get(reverse("chat:message", args=[thread_id, message_id])).status_code == 404
    # There is nothing older to page back to.
    assert "Load older messages" not in body


def test_since_choice_from_the_form(trio):
    a, _, c, thread_id, alice, bob, carol = trio
    send(a, thread_id, "ancient")
    # Dates are entered to the second at most; within the current minute counts as now.
    later = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert add(a, thread_id, carol, "since", later).status_code == 302
    sht = {
        p.identifier.raw_id: p.share_history_time
        for p in sdk_thread(None, thread_id).list_participants()
    }[raw_id_of(carol)]
    assert sht.strftime("%Y-%m-%dT%H:%M:%S") == later
    assert "ancient" not in page(c, thread_id)


@pytest.mark.parametrize(
    ("since", "error"),
    [
        ("0001-01-01T00:00", "The conversation started later than that"),
        ("2000-01-01T00:00", "The conversation started later than that"),
        ("9999-12-31T23:59", "That is in the future"),
    ],
)
def test_since_dates_outside_the_threads_life_are_refused(trio, since, error):
    a, _, c, thread_id, alice, bob, carol = trio
    response = add(a, thread_id, carol, "since", since)
    assert response.status_code == 400
    assert error in response.content.decode()
    # Nothing was added, and the thread's pages still load for its members.
    assert c.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    assert "Team" in page(a, thread_id)


def test_since_choice_without_a_date_is_refused(trio):
    a, _, c, thread_id, alice, bob, carol = trio
    response = add(a, thread_id, carol, "since", "")
    assert response.status_code == 400
    assert "Choose the date and time history starts from." in response.content.decode()
    assert c.get(reverse("chat:thread", args=[thread_id])).status_code == 404


def test_partial_failure_is_shown_per_person(trio, make_site_user):
    a, _, c, thread_id, alice, bob, carol = trio
    ghost = make_site_user("ghost", first_name="Ghost")
    # Ghost's ACS identity is gone, so ACS refuses only ghost.
    token_services.delete_acs_identity(raw_id_of(ghost))
    response = a.post(
        reverse("chat:participants", args=[thread_id]),
        {
            f"people-pick_{carol.pk}": "on",
            f"people-history_{carol.pk}": "all",
            f"people-pick_{ghost.pk}": "on",
            f"people-history_{ghost.pk}": "all",
        },
        follow=True,
    )
    body = response.content.decode()
    assert "Added 1 person." in body
    assert "Ghost could not be added" in body
    assert c.get(reverse("chat:thread", args=[thread_id])).status_code == 200


def test_removed_participant_loses_access_at_once(trio):
    a, b, _, thread_id, alice, bob, carol = trio
    message_id = send(a, thread_id, "still here?")
    assert b.get(reverse("chat:thread", args=[thread_id])).status_code == 200
    response = a.post(reverse("chat:remove", args=[thread_id]), {"raw_id": raw_id_of(bob)})
    assert response.status_code == 302
    assert b.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    assert b.get(reverse("chat:message", args=[thread_id, message_id])).status_code == 404
    assert b.get(reverse("chat:participants", args=[thread_id])).status_code == 404
    assert b.post(reverse("chat:thread", args=[thread_id]), {"content": "x"}).status_code == 404
    assert "Team" not in b.get(reverse("chat:threads")).content.decode()
    assert "Alice removed Bob" in page(a, thread_id)


def test_service_identity_and_strangers_cannot_be_removed(trio):
    a, _, _, thread_id, alice, bob, carol = trio
    service = token_services.get_service_identity()
    for raw_id in (service, raw_id_of(carol)):
        response = a.post(reverse("chat:remove", args=[thread_id]), {"raw_id": raw_id}, follow=True)
        assert "That person is not in this thread." in response.content.decode()
    members = {p.identifier.raw_id for p in sdk_thread(None, thread_id).list_participants()}
    assert service in members


def test_only_the_creator_and_staff_remove_others_and_anyone_may_leave(trio, make_site_user):
    a, b, c, thread_id, alice, bob, carol = trio
    assert add(a, thread_id, carol, "all").status_code == 302
    # Bob is a participant but not the creator: he may not remove Carol...
    response = b.post(
        reverse("chat:remove", args=[thread_id]), {"raw_id": raw_id_of(carol)}, follow=True
    )
    assert "Only the creator or staff can remove people" in response.content.decode()
    assert raw_id_of(carol) in {
        p.identifier.raw_id for p in sdk_thread(None, thread_id).list_participants()
    }
    # ...and is not offered the button; the creator is.
    assert (
        "Remove Carol" not in b.get(reverse("chat:participants", args=[thread_id])).content.decode()
    )
    assert "Remove Carol" in a.get(reverse("chat:participants", args=[thread_id])).content.decode()
    # Staff who take part may remove anyone; anyone may leave.
    staff = make_site_user("staffer", is_staff=True)
    assert add(a, thread_id, staff, "all").status_code == 302
    from django.test import Client

    s = Client()
    s.force_login(staff)
    response = s.post(reverse("chat:remove", args=[thread_id]), {"raw_id": raw_id_of(carol)})
    assert response.status_code == 302
    assert c.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    assert b.post(reverse("chat:leave", args=[thread_id])).status_code == 302


def test_leave_thread(trio):
    a, b, _, thread_id, *_ = trio
    response = b.post(reverse("chat:leave", args=[thread_id]))
    assert response.status_code == 302 and response["Location"] == reverse("chat:threads")
    assert b.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    assert "Bob left" in page(a, thread_id)
