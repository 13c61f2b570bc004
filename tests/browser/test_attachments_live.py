"""Files in a live conversation, in real Chromium against a real Daphne process: an image pasted
into the composer and a file dropped on the thread are uploaded with their progress and seen
live by the other person; the image opens large in a dialog; refused files say why; an upload
can be cancelled."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, screenshot
from tests.browser.test_thread_live import acs_thread, clean, new_thread, open_thread, site  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.own_site]


def png_base64() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


# Build a File in the page from base64 (or text) and hand it over the way the browser does.
MAKE_FILE = """
    const [name, type, data, isBase64] = args;
    const bytes = isBase64
        ? Uint8Array.from(atob(data), (c) => c.charCodeAt(0))
        : new TextEncoder().encode(data);
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type }));
"""


def paste_file(page: Any, name: str, mime: str, data: str, is_base64: bool = True) -> None:
    page.evaluate(
        "(args) => {"
        + MAKE_FILE
        + """
            const box = document.getElementById("composer-box");
            box.focus();
            const init = { clipboardData: transfer, bubbles: true, cancelable: true };
            box.dispatchEvent(new ClipboardEvent("paste", init));
        }""",
        [name, mime, data, is_base64],
    )


def drop_file(page: Any, selector: str, name: str, mime: str, data: str) -> None:
    page.evaluate(
        "(args) => {"
        + MAKE_FILE
        + """
            const zone = document.querySelector(args[4]);
            const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [name, mime, data, False, selector],
    )


def file_entries(acs_emulator: Any, user: Any, thread: str) -> list[dict]:
    entries = []
    for message in acs_thread(acs_emulator, user, thread).list_messages():
        raw = (message.metadata or {}).get("fileSharingMetadata")
        if raw:
            entries.extend(json.loads(raw))
    return entries


def test_a_pasted_image_and_a_dropped_file_are_seen_live(browser, site, acs_emulator):  # noqa: F811
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    bob = open_thread(browser, site, seeded.users["bob"], thread)

    # An image pasted into the composer uploads at once, then goes with the message.
    paste_file(alice, "screenshot.png", "image/png", png_base64())
    entry = alice.locator(".chat-file", has_text="screenshot.png")
    expect(entry).to_have_attribute("data-state", "ready")
    expect(alice.locator(".chat-files [role=status]")).to_have_text(
        "screenshot.png is ready to send"
    )
    assert alice.locator("#composer-box").inner_text().strip() == ""  # not pasted as text
    alice.click("#composer-box")
    alice.keyboard.type("look at this")
    alice.keyboard.press("Enter")
    expect(alice.locator(".chat-file")).to_have_count(0)
    theirs = bob.locator(".msg", has_text="look at this")
    image = theirs.locator("img.msg__image")
    expect(image).to_have_attribute("alt", "screenshot.png")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("i => i.naturalWidth") == 64  # the thumbnail of a small image
    # It opens large in a dialog, and Escape closes it with focus back on the image.
    image.click()
    dialog = bob.locator("dialog.chat-lightbox")
    expect(dialog).to_be_visible()
    expect(dialog.locator("img")).to_have_attribute("alt", "screenshot.png")
    expect(dialog.locator("button")).to_be_focused()
    assert axe_violations(bob) == []
    bob.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(theirs.locator("a.msg__image-link")).to_be_focused()

    # A file dropped on the thread: a download link on both pages.
    drop_file(alice, "[data-scroll]", "notes.txt", "text/plain", "meeting notes")
    expect(alice.locator(".chat-file", has_text="notes.txt")).to_have_attribute(
        "data-state", "ready"
    )
    alice.keyboard.press("Enter")  # files alone make a message
    link = bob.locator("a.msg__file-link", has_text="notes.txt")
    expect(link).to_be_visible()
    download = bob.request.get(link.evaluate("a => a.href"))
    assert download.status == 200 and download.body() == b"meeting notes"
    assert download.headers["content-disposition"] == 'attachment; filename="notes.txt"'
    expect(alice.locator("a.msg__file-link", has_text="notes.txt")).to_be_visible()

    names = [e["name"] for e in file_entries(acs_emulator, seeded.users["alice"], thread)]
    assert sorted(names) == ["notes.txt", "screenshot.png"]
    assert axe_violations(alice) == [] and axe_violations(bob) == []
    screenshot(bob, "attachments-live")
    clean(alice)
    clean(bob)


def test_refused_and_cancelled_files_are_not_sent(browser, site, acs_emulator):  # noqa: F811
    seeded, thread = new_thread(site)
    alice = open_thread(browser, site, seeded.users["alice"], thread)
    bob = open_thread(browser, site, seeded.users["bob"], thread)

    # Refused in the page: never uploaded.
    drop_file(alice, "[data-composer]", "setup.exe", "application/octet-stream", "MZ")
    refused = alice.locator(".chat-file", has_text="setup.exe")
    expect(refused).to_have_attribute("data-state", "failed")
    expect(refused.locator(".chat-file__state")).to_have_text("Files of type “exe” cannot be sent.")
    # Refused by the server: its reason is shown.
    drop_file(alice, "[data-composer]", "fake.png", "image/png", "<html>not an image</html>")
    fake = alice.locator(".chat-file", has_text="fake.png")
    expect(fake).to_have_attribute("data-state", "failed")
    expect(fake.locator(".chat-file__state")).to_have_text(
        "“fake.png” is not a valid image of its type."
    )
    refused.locator("button", has_text="Remove").click()
    fake.locator("button", has_text="Remove").click()
    expect(alice.locator(".chat-file")).to_have_count(0)

    # An upload held on its way can be cancelled; the message goes without it.
    held: list[Any] = []
    alice.route("**/attachments/", lambda route: held.append(route))
    drop_file(alice, "[data-composer]", "slow.txt", "text/plain", "slow")
    slow = alice.locator(".chat-file", has_text="slow.txt")
    expect(slow).to_have_attribute("data-state", "uploading")
    expect(slow.locator("progress")).to_be_visible()
    alice.click("#composer-box")
    alice.keyboard.type("without files")
    alice.keyboard.press("Enter")  # refused while an upload is on its way
    expect(alice.locator(".chat-composer__error")).to_have_text(
        "Wait until the files are uploaded, or remove them."
    )
    slow.locator("button", has_text="Cancel upload").click()
    expect(alice.locator(".chat-file")).to_have_count(0)
    # The request had left the page (held here), and cancelling it ended it.
    assert len(held) == 1
    alice.unroute("**/attachments/")
    alice.click("#composer-box")
    alice.keyboard.press("Enter")
    expect(bob.locator(".msg", has_text="without files")).to_be_visible()
    expect(bob.locator(".msg__files")).to_have_count(0)
    assert file_entries(acs_emulator, seeded.users["alice"], thread) == []
    clean(alice)
    clean(bob)


def test_without_script_the_message_form_sends_files(
    sign_in, make_site_user, live_server, tmp_path
):
    from chat.actions.threads import EPOCH, ParticipantChoice, do_create_thread

    alice = make_site_user("alice", first_name="Alice")
    bob = make_site_user("bob", first_name="Bob")
    thread = do_create_thread(
        alice, "Plain", [ParticipantChoice(bob, EPOCH)], "no-script"
    ).thread_id
    photo = tmp_path / "holiday.png"
    photo.write_bytes(base64.b64decode(png_base64()))
    a = sign_in(alice, javascript=False)
    b = sign_in(bob, javascript=False)
    a.goto(f"{live_server.url}/chat/t/{thread}/")
    a.fill("textarea[name=content]", "from the beach")
    a.set_input_files("input[name=files]", [str(photo)])
    with a.expect_navigation():
        a.click("button:has-text('Send')")
    b.goto(f"{live_server.url}/chat/t/{thread}/")
    message = b.locator(".msg", has_text="from the beach")
    image = message.locator("img.msg__image")
    expect(image).to_have_attribute("alt", "holiday.png")
    # (Script is off in these pages, so the image is fetched as the browser would.)
    thumbnail = b.request.get(f"{live_server.url}{image.get_attribute('src')}")
    assert thumbnail.status == 200 and thumbnail.headers["content-type"] == "image/webp"
    # A refused file: the form says why, keeps the text, and nothing is sent.
    bad = tmp_path / "run.exe"
    bad.write_bytes(b"MZ")
    a.fill("textarea[name=content]", "and this")
    a.set_input_files("input[name=files]", [str(bad)])
    with a.expect_navigation():
        a.click("button:has-text('Send')")
    expect(a.locator(".chat-error[role=alert]")).to_contain_text(
        "Files of type “exe” cannot be sent."
    )
    expect(a.locator("textarea[name=content]")).to_have_value("and this")
    assert a.csp_violations == [] and b.csp_violations == []
