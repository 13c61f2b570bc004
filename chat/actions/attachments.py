"""Attachment actions: upload a file to a thread, put uploads in a message, serve a file to a
viewer, and forget the files of deleted messages and of uploads never sent.

Who may do what (see the rule table in ``chat.actions``):

* upload: participants (asked of ACS, ``access_thread``); the upload is the uploader's alone
  until a message carries it, and only they may put it in a message of that thread;
* download: checked against ACS on every request, never remembered: the viewer is a
  participant (or staff, who look as Kwebbel's service identity), the viewer's history
  (``shareHistoryTime``) does not start after the message was created, and the message is not
  deleted (GetChatMessage, with the viewer's own token). The relay's copy is not used for this:
  it may lag behind a deletion made straight in ACS by a few seconds.

The bytes live in the ``attachments`` storage (``settings.STORAGES``): a private folder, or an
Azure Blob Storage container. Uploads not sent within ``ATTACHMENTS_UNSENT_HOURS`` are deleted
with each upload (a few at a time) and by ``manage.py cleanup_attachments``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import gateway
from chat.actions import ActionError
from chat.actions.threads import ThreadAccess, access_thread
from chat.attachments import (
    FILES_ONLY_KEY,
    THUMBNAIL_SUFFIX,
    CheckedFile,
    UploadRefused,
    check_file,
    is_uuid,
    per_message,
    sharing_metadata,
)
from chat.models import Attachment, SentMessage
from chat.people import service_raw_id
from chat.types import TEXT, history_start

logger = logging.getLogger(__name__)

# How many stale uploads one upload request deletes on its way (the command does the rest).
CLEANUP_BATCH = 20


class AttachmentNotFound(Http404):
    """No such file for this viewer (missing, not theirs to see, or its message deleted)."""


def storage() -> Storage:
    return storages["attachments"]


def _folder(thread_id: str) -> str:
    # Thread ids hold ':' and '@'; a hash is a safe folder (and blob prefix) name everywhere.
    return hashlib.sha256(thread_id.encode()).hexdigest()[:32]


def check_upload(name: str, size: int, data: IO[bytes]) -> CheckedFile:
    try:
        return check_file(name, size, data)
    except UploadRefused as error:
        raise ActionError(error.message, status=error.status) from error


def do_upload(access: ThreadAccess, checked: CheckedFile, data: IO[bytes]) -> Attachment:
    """Store a checked file (and its thumbnail) for the uploader; nothing is stored when it
    fails part way."""
    attachment = Attachment(
        chat_thread_id=access.thread_id,
        uploader=access.user,
        name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
    )
    base = f"{_folder(access.thread_id)}/{attachment.id.hex}"
    store = storage()
    saved: list[str] = []
    try:
        data.seek(0)
        attachment.storage_name = store.save(base, File(data, name=base))
        saved.append(attachment.storage_name)
        if checked.thumbnail is not None:
            attachment.thumbnail_name = store.save(
                base + THUMBNAIL_SUFFIX, ContentFile(checked.thumbnail)
            )
            saved.append(attachment.thumbnail_name)
        attachment.save(force_insert=True)
    except BaseException:
        for name in saved:
            _delete_quietly(store, name)
        raise
    cleanup_unsent(limit=CLEANUP_BATCH)
    return attachment


def check_for_send(
    user: AbstractBaseUser, thread_id: str, ids: object, client_id: str | None = None
) -> list[Attachment]:
    """The user's own unsent uploads in this thread, in the order given, for one message.

    With a ``client_id`` whose send already went through, its files count as unsent still, so
    a repeated send is answered as the first one was (see ``chat.actions.live._send_once``).
    """
    if ids in (None, []):
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ActionError(_("Attachments must be a list of attachment ids."))
    if len(ids) > per_message():
        raise ActionError(_("A message can carry at most %(max)d files.") % {"max": per_message()})
    if len(set(ids)) != len(ids) or not all(is_uuid(i) for i in ids):
        raise ActionError(_("Invalid attachment id."))
    rows = {
        str(a.id): a
        for a in Attachment.objects.filter(pk__in=ids, chat_thread_id=thread_id, uploader=user)
    }
    earlier = None
    if client_id:
        earlier = (
            SentMessage.objects.filter(user=user, client_id=client_id)
            .values_list("message_id", flat=True)
            .first()
        )
    files = []
    for i in ids:
        row = rows.get(i)
        if row is None:
            raise ActionError(_("That file is not (or no longer) available."), status=404)
        if row.message_id and row.message_id != earlier:
            raise ActionError(_("That file was already sent."))
        files.append(row)
    return files


def mark_sent(files: list[Attachment], message_id: str) -> None:
    """Record which message carries the files (only those still unsent)."""
    if files:
        Attachment.objects.filter(pk__in=[f.pk for f in files], message_id="").update(
            message_id=message_id
        )


def access_attachment(user: AbstractBaseUser, thread_id: str, attachment_id: str) -> Attachment:
    """An attachment the viewer may see now (asked of ACS each time; see the module docstring),
    else AttachmentNotFound. Unsent uploads are their uploader's only."""
    from chat.actions.messages import MessageNotFound, access_message
    from chat.actions.participants import fetch_participants

    gone = AttachmentNotFound(_("No such file."))
    if not is_uuid(attachment_id):
        raise gone
    row = Attachment.objects.filter(pk=attachment_id, chat_thread_id=thread_id).first()
    if row is None:
        raise gone
    access = _viewer_access(user, thread_id)
    if not row.message_id:
        if row.uploader_id != user.pk:
            raise gone
        return row
    start = history_start(fetch_participants(access), access.me)
    try:
        message = access_message(access, row.message_id, start)
    except MessageNotFound as error:
        raise gone from error
    if message.deleted:
        raise AttachmentNotFound(_("This file was deleted with its message."))
    return row


def _viewer_access(user: AbstractBaseUser, thread_id: str) -> ThreadAccess:
    """The viewer's own access; staff who are not in the thread look as the service identity
    (a participant of every thread Kwebbel created, seeing all of its history)."""
    try:
        return access_thread(user, thread_id)
    except Http404:
        if not getattr(user, "is_staff", False):
            raise
    thread = gateway.service_thread(thread_id)
    return ThreadAccess(user, service_raw_id(), thread_id, "", None, None, thread)


def open_file(attachment: Attachment, *, thumbnail: bool = False) -> IO[bytes]:
    name = attachment.thumbnail_name if thumbnail else attachment.storage_name
    if not name:
        raise AttachmentNotFound(_("No such file."))
    try:
        return storage().open(name, "rb")
    except (FileNotFoundError, OSError) as error:
        raise AttachmentNotFound(_("No such file.")) from error


def discard_message_files(thread_id: str, message_id: str) -> int:
    """Delete a deleted message's files from storage and from Kwebbel's records."""
    return _discard(Attachment.objects.filter(chat_thread_id=thread_id, message_id=message_id))


def discard_thread_files(thread_id: str) -> int:
    """Delete all files of a deleted thread."""
    return _discard(Attachment.objects.filter(chat_thread_id=thread_id))


def cleanup_unsent(*, limit: int | None = None) -> int:
    """Delete uploads no message took within ``ATTACHMENTS_UNSENT_HOURS``; how many."""
    cutoff = timezone.now() - timedelta(hours=settings.ATTACHMENTS_UNSENT_HOURS)
    stale = Attachment.objects.filter(message_id="", created_on__lt=cutoff).order_by("created_on")
    return _discard(stale[:limit] if limit else stale)


def discard(files: list[Attachment]) -> int:
    """Delete uploads (e.g. the others of a form post one of whose files was refused)."""
    return _discard(files)


def _discard(rows: object) -> int:
    store = storage()
    count = 0
    for row in list(rows):  # type: ignore[call-overload]
        for name in (row.storage_name, row.thumbnail_name):
            if name:
                _delete_quietly(store, name)
        Attachment.objects.filter(pk=row.pk).delete()
        count += 1
    return count


def _delete_quietly(store: Storage, name: str) -> None:
    try:
        store.delete(name)
    except Exception:  # noqa: BLE001 - a file left behind must not fail the user's action
        logger.warning("could not delete attachment file %s", name, exc_info=True)


def with_files(
    thread_id: str, content: str, kind: str, files: list[Attachment], base_url: str
) -> tuple[str, str, dict[str, str]]:
    """A message's content, format and extra metadata once it carries ``files``. ACS refuses an
    empty message, so one with only files says their names (which clients that cannot show
    files then show instead)."""
    if not files:
        return content, kind, {}
    metadata = sharing_metadata(thread_id, files, base_url)
    if not (content or "").strip():
        content, kind = ", ".join(f.name for f in files), TEXT
        metadata[FILES_ONLY_KEY] = "true"
    return content, kind, metadata
