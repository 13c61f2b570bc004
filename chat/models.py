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
