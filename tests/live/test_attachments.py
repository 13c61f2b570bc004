"""Files over the websocket: a send with attachments (ids from the upload endpoint) reaches
everyone with the files in the message markup and fileSharingMetadata in ACS; bad attachment
lists are refused with nothing sent; deleting the message deletes its files."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from chat.attachments import FILE_SHARING_KEY
from chat.models import Attachment
from tests.fixtures.outside import sdk_thread
from tests.live.conftest import run, signed_in_client
from tests.live.test_actions import send_frame

pytestmark = pytest.mark.django_db(transaction=True)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "blue").save(out, "PNG")
    return out.getvalue()


def upload(user, thread: str, name: str, data: bytes) -> str:
    response = signed_in_client(user).post(
        reverse("chat:attachments", args=[thread]),
        {"file": SimpleUploadedFile(name, data)},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def user_messages(user, thread: str) -> list:
    return [m for m in sdk_thread(user, thread).list_messages() if m.type in ("text", "html")]


async def test_a_send_with_files_reaches_everyone_with_them(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    image = await run(upload, people.alice, thread, "cat.png", png())
    doc = await run(upload, people.alice, thread, "cv.pdf", b"%PDF-1.4")

    ack = await alice.request(send_frame(thread, "", attachments=[image, doc], clientId="c-1"))
    assert ack["ok"] is True, ack
    message_id = ack["result"]["id"]
    data = (await bob.message("message.added", message_id))["data"]
    assert [(f["name"], f["id"]) for f in data["attachments"]] == [
        ("cat.png", image),
        ("cv.pdf", doc),
    ]
    thumbnail = reverse("chat:attachment_thumbnail", args=[thread, image])
    assert f'src="{thumbnail}"' in data["markup"]
    assert f'href="{reverse("chat:attachment", args=[thread, doc])}"' in data["markup"]
    assert data["html"] == ""  # files alone: the names are not repeated as text

    message = (await run(sdk_thread, people.alice, thread)).get_message(message_id)
    entries = json.loads(message.metadata[FILE_SHARING_KEY])
    assert entries == [
        {
            "id": image,
            "name": "cat.png",
            "extension": "png",
            "url": f"http://127.0.0.1:8000{reverse('chat:attachment', args=[thread, image])}",
        },
        {
            "id": doc,
            "name": "cv.pdf",
            "extension": "pdf",
            "url": f"http://127.0.0.1:8000{reverse('chat:attachment', args=[thread, doc])}",
        },
    ]
    sent = await run(lambda: set(Attachment.objects.values_list("message_id", flat=True)))
    assert sent == {message_id}
    # The same send again (a page retrying) is answered with the same message, not refused.
    again = await alice.request(send_frame(thread, "", attachments=[image, doc], clientId="c-1"))
    assert again["ok"] and again["result"]["id"] == message_id


async def test_bad_attachment_lists_are_refused_and_nothing_is_sent(people, ws, thread):
    alice, bob = await ws(people.alice), await ws(people.bob)
    await alice.subscribe(thread)
    await bob.subscribe(thread)
    mine = await run(upload, people.alice, thread, "a.txt", b"a")
    bobs = await run(upload, people.bob, thread, "b.txt", b"b")
    used = await run(upload, people.alice, thread, "used.txt", b"u")
    first = await alice.request(send_frame(thread, "first", attachments=[used]))
    assert first["ok"]
    await bob.message("message.added", first["result"]["id"])

    cases = [
        ("not a list", 400, "Attachments must be a list of attachment ids."),
        ([mine, 5], 400, "Attachments must be a list of attachment ids."),
        (["../etc/passwd"], 400, "Invalid attachment id."),
        ([mine, mine], 400, "Invalid attachment id."),
        ([str(uuid.uuid4()) for _ in range(11)], 400, "A message can carry at most 10 files."),
        ([bobs], 404, "That file is not (or no longer) available."),
        ([used], 400, "That file was already sent."),
    ]
    for attachments, status, error in cases:
        ack = await alice.request(send_frame(thread, "x", attachments=attachments))
        assert (ack["ok"], ack["status"], ack["error"]) == (False, status, error), attachments
    # Empty content needs files.
    ack = await alice.request(send_frame(thread, "", attachments=[]))
    assert ack["ok"] is False and ack["error"] == "Missing field: content."
    # The next message bob hears of is the good one after them: none of those was sent.
    good = await alice.request(send_frame(thread, "good", attachments=[mine]))
    assert good["ok"]
    heard = []
    while not heard or heard[-1] != good["result"]["id"]:
        data = (await bob.event("message.added"))["data"]
        if data["type"] != "system":
            heard.append(data["id"])
    assert heard == [good["result"]["id"]]
    texts = [m.content.message for m in await run(user_messages, people.alice, thread)]
    assert sorted(texts) == ["first", "good"]


async def test_deleting_the_message_deletes_its_files(people, ws, thread, attachment_storage):
    from tests.fixtures.attachments import stored_names

    alice = await ws(people.alice)
    await alice.subscribe(thread)
    image = await run(upload, people.alice, thread, "cat.png", png())
    message_id = (await alice.request(send_frame(thread, "pic", attachments=[image])))["result"][
        "id"
    ]
    assert len(await run(stored_names, attachment_storage)) == 2
    ack = await alice.request(
        {"action": "delete", "thread": thread, "request": "d", "message": message_id}
    )
    assert ack["ok"]
    deleted = await alice.message("message.deleted", message_id)
    assert deleted["data"]["attachments"] == []
    assert await run(stored_names, attachment_storage) == []
    assert not await run(Attachment.objects.exists)
