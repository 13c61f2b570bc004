"""Staff overview and Django admin of recorded threads, acting as the service identity."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import ThreadRecord
from chat.people import raw_id_of
from tests.chat.helpers import create_thread, page
from tests.fixtures.outside import sdk_thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(make_site_user, signed_in):
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    staff = make_site_user("admin", is_staff=True, is_superuser=True)
    a = signed_in(alice)
    thread_id = create_thread(a, "Watched", {bob: "all"})
    record = ThreadRecord.objects.get(chat_thread_id=thread_id)
    return a, signed_in(bob), signed_in(staff), thread_id, record, bob


def test_staff_page_lists_threads_with_participants(setup):
    _, b, s, thread_id, record, _ = setup
    body = s.get(reverse("chat:staff_threads")).content.decode()
    assert "Watched" in body and thread_id in body
    assert "Alice" in body and "Bob" in body
    assert b.get(reverse("chat:staff_threads")).status_code == 403


def test_staff_change_topic_remove_and_delete(setup):
    a, b, s, thread_id, record, bob = setup
    assert (
        s.post(reverse("chat:staff_topic", args=[record.pk]), {"topic": "Renamed"}).status_code
        == 302
    )
    assert sdk_thread(None, thread_id).get_properties().topic == "Renamed"
    s.post(reverse("chat:staff_remove", args=[record.pk]), {"raw_id": raw_id_of(bob)})
    assert b.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    assert "Bob was removed" in page(a, thread_id)
    assert s.post(reverse("chat:staff_delete", args=[record.pk])).status_code == 302
    assert a.get(reverse("chat:thread", args=[thread_id])).status_code == 404
    record.refresh_from_db()
    assert record.deleted_on is not None and record.topic == "Renamed"
    assert b.post(reverse("chat:staff_delete", args=[record.pk])).status_code == 403


def test_admin_lists_records_and_changes_topic_through_acs(setup):
    _, _, s, thread_id, record, _ = setup
    changelist = s.get(reverse("admin:chat_threadrecord_changelist"))
    assert changelist.status_code == 200 and "Watched" in changelist.content.decode()
    change_url = reverse("admin:chat_threadrecord_change", args=[record.pk])
    assert "Bob" in s.get(change_url).content.decode()
    s.post(change_url, {"topic": "From admin"})
    assert sdk_thread(None, thread_id).get_properties().topic == "From admin"
    s.post(
        reverse("admin:chat_threadrecord_changelist"),
        {"action": "delete_in_acs", "_selected_action": [record.pk]},
    )
    record.refresh_from_db()
    assert record.deleted_on is not None
