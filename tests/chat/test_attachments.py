"""Files and images in messages, through the pages, on both storage back ends (a private folder
and Azure Blob Storage in Azurite): upload, the message's fileSharingMetadata, downloads checked
against ACS each time, limits with clear errors and nothing stored, deletion and cleanup."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from PIL import Image

from chat.actions.participants import do_add_participants, share_history_time_for
from chat.actions.threads import ParticipantChoice, access_thread
from chat.attachments import FILE_SHARING_KEY
from chat.models import Attachment
from tests.chat.helpers import create_thread, page
from tests.fixtures.attachments import stored_names
from tests.fixtures.outside import sdk_thread

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


def png_bytes(size: tuple[int, int] = (40, 30), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def trio(make_site_user, signed_in, attachment_storage):
    """alice and bob in a thread, carol outside it, and the storage under test."""
    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    carol = make_site_user("carol", first_name="Carol")
    a, b, c = signed_in(alice), signed_in(bob), signed_in(carol)
    thread_id = create_thread(a, "Files", {bob: "all"})
    return a, b, c, thread_id, alice, bob, carol, attachment_storage


def send_files(client, thread_id, files, content=""):
    """The no-script composer: text and files in one multipart post."""
    return client.post(
        reverse("chat:thread", args=[thread_id]), {"content": content, "files": files}
    )


def sent_id(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rsplit("#m-", 1)[1]


def upload(client, thread_id, name, data, **extra):
    return client.post(
        reverse("chat:attachments", args=[thread_id]),
        {"file": SimpleUploadedFile(name, data)},
        **JSON,
        **extra,
    )


def metadata_of(thread_id: str, message_id: str) -> dict:
    return sdk_thread(None, thread_id).get_message(message_id).metadata or {}


def file_links(thread_id: str, message_id: str) -> list[str]:
    entries = json.loads(metadata_of(thread_id, message_id)[FILE_SHARING_KEY])
    return [entry["url"] for entry in entries]


def test_sent_files_are_in_the_metadata_in_the_file_sharing_shape(trio):
    a, b, _, thread_id, *_, storage = trio
    photo = png_bytes()
    response = send_files(
        a,
        thread_id,
        [SimpleUploadedFile("photo.png", photo), SimpleUploadedFile("notes.txt", b"hello")],
        "look",
    )
    message_id = sent_id(response)
    metadata = metadata_of(thread_id, message_id)
    entries = json.loads(metadata[FILE_SHARING_KEY])
    assert [sorted(e) for e in entries] == [["extension", "id", "name", "url"]] * 2
    assert [(e["name"], e["extension"]) for e in entries] == [
        ("photo.png", "png"),
        ("notes.txt", "txt"),
    ]
    rows = {str(r.id): r for r in Attachment.objects.all()}
    for entry in entries:
        path = reverse("chat:attachment", args=[thread_id, entry["id"]])
        assert entry["url"] == f"http://testserver{path}"
        assert rows[entry["id"]].message_id == message_id
    # Image, its thumbnail and the text file are in the storage.
    assert len(stored_names(storage)) == 3
    # Bob downloads both: the image inline, the text as a download, neither sniffed.
    image = b.get(entries[0]["url"])
    assert image.status_code == 200
    assert b"".join(image.streaming_content) == photo
    assert image["Content-Type"] == "image/png"
    assert image["Content-Disposition"].startswith("inline")
    assert image["X-Content-Type-Options"] == "nosniff"
    assert image["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert image["Cache-Control"] == "private, no-cache"
    text = b.get(entries[1]["url"])
    assert b"".join(text.streaming_content) == b"hello"
    assert text["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert text["X-Content-Type-Options"] == "nosniff"
    thumbnail = b.get(reverse("chat:attachment_thumbnail", args=[thread_id, entries[0]["id"]]))
    assert thumbnail["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(b"".join(thumbnail.streaming_content))).format == "WEBP"
    # The page shows the thumbnail linked to the image, and the file as a download.
    body = page(b, thread_id)
    assert (
        f'src="{reverse("chat:attachment_thumbnail", args=[thread_id, entries[0]["id"]])}"' in body
    )
    assert 'alt="photo.png"' in body
    assert f'href="{reverse("chat:attachment", args=[thread_id, entries[1]["id"]])}"' in body


def test_files_alone_make_a_message_that_names_them_for_other_clients(trio):
    a, b, _, thread_id, *_ = trio
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("plan.pdf", b"%PDF-1.4")]))
    message = sdk_thread(None, thread_id).get_message(message_id)
    assert message.content.message == "plan.pdf"
    body = page(b, thread_id)
    # Kwebbel shows the file, not the names again as text.
    assert '<div class="msg__body" dir="auto"></div>' in body
    assert ">plan.pdf</span>" in body


def test_upload_endpoint_stores_one_file_for_its_uploader_only(trio):
    a, b, _, thread_id, *_, storage = trio
    response = upload(a, thread_id, "photo.png", png_bytes())
    assert response.status_code == 201
    data = response.json()
    assert data["name"] == "photo.png" and data["contentType"] == "image/png"
    assert data["thumbnailUrl"] == reverse(
        "chat:attachment_thumbnail", args=[thread_id, data["id"]]
    )
    assert len(stored_names(storage)) == 2
    url = reverse("chat:attachment", args=[thread_id, data["id"]])
    # Not sent yet: the uploader sees it (for the composer), nobody else does.
    assert a.get(url).status_code == 200
    assert b.get(url).status_code == 404


def test_a_file_is_refused_to_a_non_participant(trio):
    a, _, c, thread_id, *_, storage = trio
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("a.txt", b"secret")]))
    (url,) = file_links(thread_id, message_id)
    assert c.get(url).status_code == 404
    # Nor may they upload to it: refused before anything is stored.
    before = stored_names(storage)
    assert upload(c, thread_id, "b.txt", b"x").status_code == 404
    assert stored_names(storage) == before
    # Anonymous visitors are sent to sign in.
    assert Client().get(url).status_code == 302


def test_staff_outside_the_thread_may_see_its_files(trio, make_site_user, signed_in):
    a, _, _, thread_id, *_ = trio
    boss = make_site_user("boss", is_staff=True)
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("a.txt", b"report")]))
    (url,) = file_links(thread_id, message_id)
    response = signed_in(boss).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"report"


def test_a_file_is_refused_to_a_participant_whose_history_starts_after_it(
    trio, make_site_user, signed_in
):
    a, _, _, thread_id, alice, *_ = trio
    dave = make_site_user("dave", first_name="Dave")
    early = sent_id(send_files(a, thread_id, [SimpleUploadedFile("early.txt", b"before")]))
    boundary = datetime.fromtimestamp((int(early) + 1) / 1000, tz=UTC)
    do_add_participants(
        access_thread(alice, thread_id),
        [ParticipantChoice(dave, share_history_time_for("since", boundary))],
    )
    later = early
    while int(later) <= int(early):  # a message id one millisecond on at least
        later = sent_id(send_files(a, thread_id, [SimpleUploadedFile("later.txt", b"after")]))
    d = signed_in(dave)
    (early_url,) = file_links(thread_id, early)
    (later_url,) = file_links(thread_id, later)
    assert d.get(later_url).status_code == 200
    assert d.get(early_url).status_code == 404


def test_a_deleted_messages_files_are_no_longer_served_and_are_removed(trio):
    a, b, _, thread_id, *_, storage = trio
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("p.png", png_bytes())]))
    (url,) = file_links(thread_id, message_id)
    assert b.get(url).status_code == 200
    assert len(stored_names(storage)) == 2
    response = a.post(reverse("chat:delete_message", args=[thread_id, message_id]))
    assert response.status_code == 302
    assert b.get(url).status_code == 404
    assert a.get(url).status_code == 404
    assert stored_names(storage) == []
    assert not Attachment.objects.exists()
    assert url not in page(b, thread_id)


def test_a_message_deleted_straight_in_acs_no_longer_serves_its_files(trio):
    a, b, _, thread_id, alice, *_ = trio
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("a.txt", b"x")]))
    (url,) = file_links(thread_id, message_id)
    sdk_thread(alice, thread_id).delete_message(message_id)
    response = b.get(url, **JSON)
    assert response.status_code == 404
    assert response.json()["error"] == "This file was deleted with its message."


def test_an_oversized_file_gets_a_clear_error_and_nothing_is_stored(trio, settings):
    a, _, _, thread_id, *_, storage = trio
    settings.ATTACHMENTS_MAX_BYTES = 1000
    response = upload(a, thread_id, "big.txt", b"x" * 1001)
    assert response.status_code == 413
    assert response.json()["error"] == "“big.txt” is too large: files can be at most 1000\xa0bytes."
    # Far over the limit: refused from its announced length, before the body is read.
    response = upload(
        a, thread_id, "huge.txt", b"x" * 200_000, HTTP_X_FILE_NAME="huge%20%C3%A9.txt"
    )
    assert response.status_code == 413
    assert "“huge é.txt” is too large" in response.json()["error"]
    # The form post too: the message is not sent and the text is kept.
    response = send_files(a, thread_id, [SimpleUploadedFile("big.txt", b"x" * 1001)], "see file")
    assert response.status_code == 400
    body = response.content.decode()
    assert "is too large: files can be at most" in body and "see file" in body
    assert stored_names(storage) == []
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("setup.exe", b"MZ\x90\x00", "Files of type “exe” cannot be sent."),
        ("page.html", b"<script>alert(1)</script>", "Files of type “html” cannot be sent."),
        ("logo.svg", b"<svg onload=alert(1)>", "Files of type “svg” cannot be sent."),
        ("README", b"no extension", "Files of type “no extension” cannot be sent."),
        ("fake.png", b"<html>not an image</html>", "“fake.png” is not a valid image of its type."),
        ("gif.png", None, "“gif.png” is not a valid image of its type."),
        ("empty.txt", b"", "“empty.txt” is empty."),
    ],
)
def test_a_forbidden_file_gets_a_clear_error_and_nothing_is_stored(trio, name, data, error):
    a, _, _, thread_id, *_, storage = trio
    if data is None:  # a real image, but not the kind its name says
        out = io.BytesIO()
        Image.new("RGB", (4, 4)).save(out, "GIF")
        data = out.getvalue()
    response = upload(a, thread_id, name, data)
    assert response.status_code in (400, 415)
    assert response.json()["error"].startswith(error)
    response = send_files(
        a, thread_id, [SimpleUploadedFile("ok.txt", b"ok"), SimpleUploadedFile(name, data)]
    )
    assert response.status_code == 400
    assert stored_names(storage) == []
    assert not Attachment.objects.exists()


def test_errors_are_in_dutch_too(trio):
    a, _, _, thread_id, *_ = trio
    response = upload(a, thread_id, "setup.exe", b"MZ", HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 415
    assert response.json()["error"].startswith("Bestanden van het type “exe” kunnen niet")


def test_at_most_ten_files_per_message(trio):
    a, _, _, thread_id, *_, storage = trio
    files = [SimpleUploadedFile(f"{n}.txt", b"x") for n in range(11)]
    response = send_files(a, thread_id, files, "many")
    assert response.status_code == 400
    assert "A message can carry at most 10 files." in response.content.decode()
    assert stored_names(storage) == []


def test_malformed_uploads_are_refused(trio):
    a, _, _, thread_id, *_ = trio
    url = reverse("chat:attachments", args=[thread_id])
    assert a.post(url, {}, **JSON).status_code == 400
    two = {"file": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")]}
    assert a.post(url, two, **JSON).status_code == 400
    assert a.get(url).status_code == 405
    hostile = upload(a, thread_id, "../../etc/pass\x00wd.txt", b"x")
    assert hostile.status_code == 201 and hostile.json()["name"] == "passwd.txt"
    bad_thread = reverse("chat:attachments", args=["not-a-thread"])
    assert (
        a.post(bad_thread, {"file": SimpleUploadedFile("a.txt", b"a")}, **JSON).status_code == 404
    )
    assert a.get(f"/chat/t/{thread_id}/attachments/not-a-uuid/").status_code == 404
    missing = reverse("chat:attachment", args=[thread_id, "00000000-0000-0000-0000-000000000000"])
    assert a.get(missing).status_code == 404


def test_uploads_need_the_csrf_token(trio):
    *_, thread_id, alice, _bob, _carol, storage = trio
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert upload(strict, thread_id, "a.txt", b"a").status_code == 403
    assert stored_names(storage) == []


def test_only_kwebbels_own_links_of_the_thread_are_shown(trio):
    a, b, _, thread_id, alice, *_ = trio
    own = upload(a, thread_id, "mine.png", png_bytes()).json()["id"]
    own_url = reverse("chat:attachment", args=[thread_id, own])
    other_thread = create_thread(a, "Other", {})
    entries = [
        {"id": "1", "name": "evil.png", "extension": "png", "url": "https://evil.example/x.png"},
        {"id": "2", "name": "js.png", "extension": "png", "url": "javascript:alert(1)"},
        {
            "id": "3",
            "name": "elsewhere.png",
            "extension": "png",
            "url": reverse("chat:attachment", args=[other_thread, own]),
        },
        {"id": "4", "name": "ok.png", "extension": "png", "url": f"http://testserver{own_url}"},
        "not an object",
    ]
    sdk_thread(alice, thread_id).send_message(
        "from another client", metadata={FILE_SHARING_KEY: json.dumps(entries)}
    )
    sdk_thread(alice, thread_id).send_message("broken", metadata={FILE_SHARING_KEY: "[{"})
    body = page(b, thread_id)
    assert "evil.example" not in body and "javascript:" not in body
    assert "elsewhere.png" not in body
    assert 'alt="ok.png"' in body
    assert "broken" in body


def test_unsent_uploads_are_cleaned_up_after_the_set_hours(trio, settings):
    a, _, _, thread_id, *_, storage = trio
    old = upload(a, thread_id, "old.txt", b"old").json()["id"]
    sent_id(send_files(a, thread_id, [SimpleUploadedFile("kept.txt", b"kept")]))
    Attachment.objects.update(created_on=datetime.now(UTC) - timedelta(hours=25))
    settings.ATTACHMENTS_UNSENT_HOURS = 24
    call_command("cleanup_attachments")
    assert list(Attachment.objects.values_list("name", flat=True)) == ["kept.txt"]
    assert len(stored_names(storage)) == 1
    assert a.get(reverse("chat:attachment", args=[thread_id, old])).status_code == 404


def test_deleting_the_conversation_deletes_its_files(trio):
    a, b, _, thread_id, *_, storage = trio
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("p.png", png_bytes())]))
    upload(a, thread_id, "unsent.txt", b"u")
    (url,) = file_links(thread_id, message_id)
    assert len(stored_names(storage)) == 3
    assert a.post(reverse("chat:delete", args=[thread_id])).status_code == 302
    assert stored_names(storage) == []
    assert not Attachment.objects.exists()
    assert b.get(url).status_code == 404


def test_words_added_later_to_a_files_only_message_are_shown(trio):
    a, b, _, thread_id, *_ = trio
    message_id = sent_id(send_files(a, thread_id, [SimpleUploadedFile("plan.pdf", b"%PDF-1.4")]))
    response = a.post(
        reverse("chat:edit", args=[thread_id, message_id]), {"content": "the plan, at last"}
    )
    assert response.status_code == 302
    body = page(b, thread_id)
    assert "<p>the plan, at last</p>" in body
    assert ">plan.pdf</span>" in body
