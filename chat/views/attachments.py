"""Attachment upload and download. Thin: the checks are in ``chat.actions.attachments``."""

from __future__ import annotations

from urllib.parse import unquote

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from chat.actions import ActionError
from chat.actions.attachments import (
    access_attachment,
    check_upload,
    discard,
    do_upload,
    open_file,
)
from chat.actions.threads import ThreadAccess, access_thread
from chat.attachments import (
    ALLOWED_EXTENSIONS,
    max_bytes,
    per_message,
    size_text,
    thumbnail_path,
    too_large_message,
)
from chat.models import Attachment
from chat.views import chat_view

# Room for the multipart framing and the CSRF field around one file.
MULTIPART_OVERHEAD = 64 * 1024


def _too_large(request: HttpRequest) -> bool:
    """Whether the request announces more than one file of the allowed size: refused before a
    byte of it is read, so nothing of it is kept anywhere."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > max_bytes() + MULTIPART_OVERHEAD


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@chat_view
@require_POST
def attachment_upload(request: HttpRequest, thread_id: str) -> HttpResponse:
    """One file (field ``file``) for a message still to be sent: 201 with its id, or 4xx with a
    clear error. The page script uploads each file on its own, for its progress."""
    if _too_large(request):
        # The page script names the file (URI-encoded: headers are Latin-1).
        name = unquote(request.headers.get("X-File-Name", ""))[:200] or _("The file")
        return JsonResponse({"error": too_large_message(name)}, status=413)
    access = access_thread(request.user, thread_id)
    uploads = request.FILES.getlist("file")
    if len(uploads) != 1:
        raise ActionError(_("Send exactly one file in the field “file”."))
    upload = uploads[0]
    checked = check_upload(upload.name or "", upload.size or 0, upload.file)
    attachment = do_upload(access, checked, upload.file)
    return JsonResponse(
        {
            "id": str(attachment.id),
            "name": attachment.name,
            "size": attachment.size,
            "contentType": attachment.content_type,
            "thumbnailUrl": thumbnail_path(thread_id, str(attachment.id))
            if attachment.is_image
            else None,
        },
        status=201,
    )


def _serve(
    request: HttpRequest, thread_id: str, attachment_id: object, thumbnail: bool
) -> HttpResponse:
    attachment = access_attachment(request.user, thread_id, str(attachment_id))
    inline = attachment.is_image
    response = FileResponse(
        open_file(attachment, thumbnail=thumbnail),
        as_attachment=not inline,
        filename=attachment.name,
        content_type="image/webp" if thumbnail else attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Whatever the file is, it runs nothing if opened on its own.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Checked per request: no shared cache may keep it past a deletion or a removal.
    response["Cache-Control"] = "private, no-cache"
    return response


@chat_view
@require_GET
def attachment_download(
    request: HttpRequest, thread_id: str, attachment_id: object
) -> HttpResponse:
    return _serve(request, thread_id, attachment_id, thumbnail=False)


@chat_view
@require_GET
def attachment_thumbnail(
    request: HttpRequest, thread_id: str, attachment_id: object
) -> HttpResponse:
    return _serve(request, thread_id, attachment_id, thumbnail=True)


def upload_with_form(request: HttpRequest, access: ThreadAccess) -> list[Attachment]:
    """The no-script composer's files (field ``files``): all checked before any is stored, so a
    refused one leaves nothing behind."""
    uploads = request.FILES.getlist("files")
    if len(uploads) > per_message():
        raise ActionError(_("A message can carry at most %(max)d files.") % {"max": per_message()})
    checked = [(check_upload(u.name or "", u.size or 0, u.file), u) for u in uploads]
    stored = []
    try:
        for result, upload in checked:
            stored.append(do_upload(access, result, upload.file))
    except BaseException:
        discard(stored)
        raise
    return stored


def attachment_context() -> dict[str, object]:
    """What the composer's file field says of the limits."""
    return {
        "attachment_accept": ",".join(f".{e}" for e in ALLOWED_EXTENSIONS),
        "attachment_max_size": size_text(max_bytes()),
        "attachment_max_count": per_message(),
    }


def attachment_config() -> dict[str, object]:
    """The page script's limits and words for files (it checks them too, before uploading)."""
    return {
        "maxBytes": max_bytes(),
        "maxCount": per_message(),
        "extensions": list(ALLOWED_EXTENSIONS),
        "strings": {
            "remove": _("Remove"),
            "cancel": _("Cancel upload"),
            "uploading": _("Uploading %(name)s (%(percent)s percent)"),
            "uploaded": _("%(name)s is ready to send"),
            "failed": _("%(name)s could not be uploaded: %(error)s"),
            "tooLarge": _("“%(name)s” is too large: files can be at most %(max)s."),
            "badType": _("Files of type “%(extension)s” cannot be sent."),
            "tooMany": _("A message can carry at most %(max)s files."),
            "stillUploading": _("Wait until the files are uploaded, or remove them."),
            "dropHere": _("Drop files to attach them"),
            "imageDialog": _("Image"),
            "close": _("Close"),
            "openFull": _("Open the full image"),
        },
    }
