"""What Kwebbel remembers about chat threads; the messages themselves live only in ACS."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PortableJSONField(models.TextField):
    """JSON kept as text with every non-ASCII character escaped (``\\u0000``, ``\\ud800``).

    The relay stores whatever ACS accepts, written by anyone with a token. PostgreSQL's
    ``jsonb`` refuses ``\\u0000`` and its ``text`` refuses NUL bytes, and a lone surrogate is
    not UTF-8 at all: escaped JSON text holds all three, on SQLite and PostgreSQL alike.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        return None if value is None else json.loads(value)

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)

    def to_python(self, value: Any) -> Any:
        return value


class ThreadRecord(models.Model):
    """A chat thread created through Kwebbel, kept so staff can find every thread later.

    ACS offers no way to list all threads of a resource, only those of one identity, so
    this table is the staff's index. Topic and deletion are mirrored when they change
    through Kwebbel; ACS stays the source of truth for everything else.
    """

    chat_thread_id = models.CharField(_("chat thread id"), max_length=200, unique=True)
    topic = models.CharField(_("topic"), max_length=250)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("creator"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="created_threads",
    )
    created_on = models.DateTimeField(_("created"), auto_now_add=True)
    deleted_on = models.DateTimeField(_("deleted"), null=True, blank=True)
    # Set when the relay found Kwebbel's service identity no longer in the thread (removed
    # straight through ACS): staff pages and live updates of outside changes stop working.
    service_removed_on = models.DateTimeField(_("service identity removed"), null=True, blank=True)

    class Meta:
        verbose_name = _("chat thread")
        verbose_name_plural = _("chat threads")
        ordering = ["-created_on"]

    def __str__(self) -> str:
        return self.topic or self.chat_thread_id


# --- The live relay (chat.relay) ------------------------------------------------------------------


class RelayThread(models.Model):
    """What the relay last published about one thread, shared by every server process.

    ``last_cursor`` is the thread's event counter: appends lock this row, so cursors only grow
    and are never handed out twice. ``pruned_through`` is the newest cursor already dropped from
    the log; a page resuming from before it must reload. Members, topic and receipts are the
    published state that observations are compared with (None: not known yet).
    """

    chat_thread_id = models.CharField(max_length=200, unique=True)
    last_cursor = models.BigIntegerField(default=0)
    pruned_through = models.BigIntegerField(default=0)
    # Unknown messages created before this are history the page loads itself, not news.
    tracked_since = models.DateTimeField()
    # {raw_id: share_history_time ISO or None}; None until first read in full.
    members = PortableJSONField(null=True, blank=True)
    # None: not known yet, which differs from any topic, even an empty one.
    topic = PortableJSONField(null=True, blank=True)
    # How the topic and members above came about (see chat.relay.observe): the sequence id of
    # the last topicUpdated system message applied, the last participant system message
    # applied to each person ({raw_id: sequence id}), and a count of membership changes.
    topic_seq = models.BigIntegerField(null=True, blank=True)
    member_seqs = PortableJSONField(default=dict, blank=True)
    members_version = models.PositiveBigIntegerField(default=0)
    # {raw_id: latest read message id}
    receipts = PortableJSONField(default=dict, blank=True)
    # The thread was deleted (nothing follows), or the service identity can no longer read it.
    deleted_on = models.DateTimeField(null=True, blank=True)
    service_removed_on = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.chat_thread_id} @ {self.last_cursor}"


class RelayEvent(models.Model):
    """One published change; ``cursor`` orders a thread's events (1, 2, 3, ... no gaps)."""

    chat_thread_id = models.CharField(max_length=200)
    cursor = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    data = PortableJSONField()
    # When the change happened (see chat.relay.events); None for events logged before it was kept.
    at = models.DateTimeField(null=True, blank=True)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chat_thread_id", "cursor"], name="relay_event_thread_cursor"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chat_thread_id} #{self.cursor} {self.kind}"


class RelayMessage(models.Model):
    """The published state of one message: a fingerprint of what a page shows of it."""

    chat_thread_id = models.CharField(max_length=200)
    message_id = models.CharField(max_length=32)
    fingerprint = models.CharField(max_length=64)
    sequence_id = models.BigIntegerField(null=True, blank=True)
    # ACS's version (epoch ms, grows with each edit/delete); None when observed without one.
    version = models.BigIntegerField(null=True, blank=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chat_thread_id", "message_id"], name="relay_message_thread_message"
            )
        ]

    def __str__(self) -> str:
        return f"{self.chat_thread_id} {self.message_id}"


class SentMessage(models.Model):
    """A send reserved under the browser's client message id, so a retried send is not doubled."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    client_id = models.CharField(max_length=64)
    chat_thread_id = models.CharField(max_length=200)
    # None while the send is reserved but ACS has not answered yet.
    message_id = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client_id"], name="sent_message_user_client")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} -> {self.message_id}"


# --- People ---------------------------------------------------------------------------------------


class Profile(models.Model):
    """What a user sets about themselves: the name others see, and the time zone of their pages.

    Both may be left empty: the name then comes from the account (``chat.people.display_name``)
    and times follow the browser.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_profile"
    )
    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return self.display_name or str(self.user)


# --- Reactions ------------------------------------------------------------------------------------


class Reaction(models.Model):
    """One user's reaction to one message (chat.actions.reactions).

    ACS lets only a message's sender change it (its metadata included), so reactions, which
    every participant adds, are kept here. One row per (thread, message, user, emoji): the
    unique constraint makes two simultaneous toggles of the same reaction one row.
    """

    chat_thread_id = models.CharField(max_length=200)
    message_id = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_reactions"
    )
    emoji = models.CharField(max_length=16)
    created_on = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chat_thread_id", "message_id", "user", "emoji"],
                name="reaction_once_per_user",
            )
        ]
        indexes = [models.Index(fields=["chat_thread_id", "message_id"], name="reaction_message")]

    def __str__(self) -> str:
        return f"{self.message_id} {self.emoji} {self.user_id}"


# --- Attachments ----------------------------------------------------------------------------------


class Attachment(models.Model):
    """A file uploaded to a thread; the bytes are in the ``attachments`` storage, the message that
    carries it (its ``fileSharingMetadata``) in ACS. ``message_id`` is empty until it is sent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    chat_thread_id = models.CharField(max_length=200, db_index=True)
    message_id = models.CharField(max_length=32, blank=True, default="", db_index=True)
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    storage_name = models.CharField(max_length=255)
    thumbnail_name = models.CharField(max_length=255, blank=True, default="")
    created_on = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail_name)
