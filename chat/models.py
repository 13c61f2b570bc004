"""What Kwebbel remembers about chat threads; the messages themselves live only in ACS."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    members = models.JSONField(null=True, blank=True)
    # None: not known yet, which differs from any topic, even an empty one.
    topic = models.TextField(null=True, blank=True)  # noqa: DJ001
    # {raw_id: latest read message id}
    receipts = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.chat_thread_id} @ {self.last_cursor}"


class RelayEvent(models.Model):
    """One published change; ``cursor`` orders a thread's events (1, 2, 3, ... no gaps)."""

    chat_thread_id = models.CharField(max_length=200)
    cursor = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    data = models.JSONField()
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
