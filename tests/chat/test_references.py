"""The parts of replies and mentions that need no ACS: the sanitiser's form of a mention, which
mentions are kept, how quotes are resolved and cached, and what a viewer is shown of one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat.mentions import keep_mentions_of, mentioned
from chat.people import Person
from chat.rendering import for_viewer, message_json
from chat.replies import REPLY_TO_KEY, reply_target, resolve
from chat.sanitize import clean_html
from chat.types import HTML, TEXT, Message

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
THREAD = "19:abc@thread.v2"


def _message(
    message_id: str, body: str, *, kind: str = TEXT, at: datetime = T0, **extra
) -> Message:
    return Message(id=message_id, type=kind, created_on=at, sender_id="8:alice", body=body, **extra)


@pytest.mark.parametrize(
    "dirty",
    [
        '<span data-mention="8:bob" class="x" style="color:red" onclick="alert(1)">@Bob</span>',
        '<span data-mention="8:bob" data-other="1" id="x">@Bob</span>',
    ],
)
def test_a_mention_keeps_only_its_raw_id(dirty):
    assert clean_html(dirty) == '<span data-mention="8:bob">@Bob</span>'


def test_a_span_without_a_mention_is_plain_text_and_no_other_tag_gains_the_attribute():
    assert clean_html('<span style="x">hi</span><b data-mention="8:bob">b</b>') == (
        "<span>hi</span><b>b</b>"
    )


def test_only_mentions_of_participants_are_kept():
    html = clean_html(
        '<span data-mention="8:bob">@Bob</span> <span data-mention="8:eve">@Eve</span> <b>x</b>'
    )
    kept = keep_mentions_of(html, ["8:alice", "8:bob"])
    assert kept == '<span data-mention="8:bob">@Bob</span> <span>@Eve</span> <b>x</b>'
    assert mentioned(kept, HTML) == {"8:bob"}
    assert mentioned(kept, TEXT) == set()  # text messages mention nobody


@pytest.mark.parametrize(
    ("metadata", "target"),
    [
        ({REPLY_TO_KEY: "17"}, "17"),
        ({REPLY_TO_KEY: "x"}, None),
        ({REPLY_TO_KEY: "5"}, None),
        ({}, None),
    ],
)
def test_a_reply_target_is_a_message_id_other_than_its_own(metadata, target):
    assert reply_target(_message("5", "hi", metadata=metadata)) == target


def test_quotes_come_from_loaded_messages_then_the_cache_then_a_bounded_number_of_reads(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    reads: list[str] = []

    def fetch(message_id: str) -> Message:
        reads.append(message_id)
        if message_id == "404":
            raise LookupError("no such message")
        return _message(message_id, f"<b>text</b> &amp; of {message_id}", kind=HTML)

    loaded = {"1": _message("1", "loaded")}
    found = resolve(THREAD, ["1", "2", "3", "404"], loaded, fetch, max_fetches=2)
    assert found["1"]["text"] == "loaded" and found["2"]["text"] == "text & of 2"
    assert reads == ["2", "3"] and "404" not in found  # past the budget: left out
    again = resolve(THREAD, ["2", "3", "404"], {}, fetch, max_fetches=2)
    assert reads == ["2", "3", "404"]  # 2 and 3 from the cache
    assert again["404"] is None  # unknown, and not cached as such
    resolve(THREAD, ["404"], {}, fetch)
    assert reads.count("404") == 2


def _reply_shown(original: Message, history_start: datetime | None) -> dict:
    reply = _message(
        "900", "answer", at=T0 + timedelta(hours=1), metadata={REPLY_TO_KEY: original.id}
    )
    quotes = resolve(THREAD, [original.id], {original.id: original}, lambda _m: original)
    people = {"8:alice": Person("8:alice", 1, "Alice")}
    shown = message_json(reply, thread_id=THREAD, people=people, quotes=quotes)
    return for_viewer(shown, thread_id=THREAD, me="8:carol", history_start=history_start)


def test_a_quote_shows_nothing_of_an_original_before_the_viewers_history_or_deleted(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    secret = _message("100", "the secret plan", at=T0)
    seen = _reply_shown(secret, None)
    assert seen["reply"]["text"] == "the secret plan" and "the secret plan" in seen["markup"]
    for hidden in (
        _reply_shown(secret, T0 + timedelta(minutes=30)),
        _reply_shown(_message("101", "", at=T0, deleted_on=T0 + timedelta(minutes=1)), None),
    ):
        assert hidden["reply"]["hidden"] is True
        assert "secret" not in str(hidden) and "msg__reply--hidden" in hidden["markup"]
