"""Files and images in messages: what may be uploaded, how images are checked and shrunk, and
how a message carries its files.

A message carries its files in its ACS metadata the way Microsoft's chat UI library does
(``fileSharingMetadata``: a JSON list of ``{id, name, extension, url}``), so other ACS clients
can show them too. The ``url`` points to Kwebbel's download view, which checks access every
time; the bytes never leave through any other way. When a message is shown, only entries whose
url is such a download link of the same thread are kept, and the markup uses a link Kwebbel
builds itself from the ids, so an entry written by another client can never make a page load
an arbitrary address.

Nothing here talks to ACS or the database; ``chat.actions.attachments`` does.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import warnings
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

# The metadata key Microsoft's UI library reads and writes (a JSON list, as a string: ACS
# metadata values are strings).
FILE_SHARING_KEY = "fileSharingMetadata"
# Set when a message holds only files: its text is then just their names, for clients that
# cannot show files, and Kwebbel does not repeat it under the files.
FILES_ONLY_KEY = "kwebbelFilesOnly"
# At most this many entries of a message's metadata are looked at when showing it.
MAX_SHOWN = 20
NAME_MAX_LENGTH = 200
THUMBNAIL_SIZE = (480, 480)
THUMBNAIL_SUFFIX = ".thumb.webp"

# Images: extension -> (Pillow's format, content type). Their content is checked with Pillow
# and must be that format; they are shown inline, with a thumbnail.
IMAGE_TYPES: dict[str, tuple[str, str]] = {
    "png": ("PNG", "image/png"),
    "jpg": ("JPEG", "image/jpeg"),
    "jpeg": ("JPEG", "image/jpeg"),
    "gif": ("GIF", "image/gif"),
    "webp": ("WEBP", "image/webp"),
}
# Other files: extension -> the content type Kwebbel serves them with (always as a download,
# never shown in the page, with nosniff). Anything not listed (.exe, .html, .svg, .js…) is
# refused: SVG and HTML run script when opened.
FILE_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "zip": "application/zip",
}
ALLOWED_EXTENSIONS = tuple(sorted({*IMAGE_TYPES, *FILE_TYPES}))
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


class UploadRefused(Exception):
    """A file Kwebbel does not take; the message says why, in the user's language."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class CheckedFile:
    name: str
    extension: str
    content_type: str
    size: int
    thumbnail: bytes | None  # images only


def max_bytes() -> int:
    return settings.ATTACHMENTS_MAX_BYTES


def per_message() -> int:
    return settings.ATTACHMENTS_PER_MESSAGE


def size_text(size: int) -> str:
    """A file size as people write it: "25 MB" rather than Django's "25.0 MB" (the page script
    writes sizes the same way, so the hint and the errors agree)."""
    text = str(filesizeformat(size))
    for whole in (".0\xa0", ",0\xa0", ".0 ", ",0 "):
        text = text.replace(whole, whole[-1])
    return text


def too_large_message(name: str) -> str:
    return _("“%(name)s” is too large: files can be at most %(max)s.") % {
        "name": name,
        "max": size_text(max_bytes()),
    }


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def check_name(name: str) -> str:
    """The file's own name without any folder, control characters or NULs, kept short."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("", name).strip()
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = name.encode("utf-8", "replace").decode("utf-8")
    if not name or name in (".", ".."):
        raise UploadRefused(_("The file has no name."))
    if len(name) > NAME_MAX_LENGTH:
        extension = extension_of(name)
        keep = NAME_MAX_LENGTH - len(extension) - 1
        name = f"{name[:keep]}.{extension}" if extension and keep > 0 else name[:NAME_MAX_LENGTH]
    return name


def check_file(name: str, size: int, data: IO[bytes]) -> CheckedFile:
    """Check one uploaded file: its size, its type by extension, and for images its content
    (it must really be that kind of image); images get their thumbnail here."""
    name = check_name(name)
    if size > max_bytes():
        raise UploadRefused(too_large_message(name), status=413)
    if size == 0:
        raise UploadRefused(_("“%(name)s” is empty.") % {"name": name})
    extension = extension_of(name)
    if extension in IMAGE_TYPES:
        expected, content_type = IMAGE_TYPES[extension]
        return CheckedFile(
            name, extension, content_type, size, make_thumbnail(data, expected, name)
        )
    if extension in FILE_TYPES:
        return CheckedFile(name, extension, FILE_TYPES[extension], size, None)
    raise UploadRefused(
        _("Files of type “%(extension)s” cannot be sent. Allowed: %(allowed)s.")
        % {"extension": extension or _("no extension"), "allowed": ", ".join(ALLOWED_EXTENSIONS)},
        status=415,
    )


def make_thumbnail(data: IO[bytes], expected_format: str, name: str) -> bytes:
    """A small WebP of the image, after checking with Pillow that it is the image its name says
    (decompression bombs included: Pillow's pixel limit is an error here, not a warning)."""
    not_image = UploadRefused(
        _("“%(name)s” is not a valid image of its type.") % {"name": name}, status=415
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            data.seek(0)
            with Image.open(data) as image:
                if image.format != expected_format:
                    raise not_image
                image.verify()
            data.seek(0)
            with Image.open(data) as image:
                image.seek(0)
                small = ImageOps.exif_transpose(image)
                small.thumbnail(THUMBNAIL_SIZE)
                if small.mode not in ("RGB", "RGBA"):
                    small = small.convert("RGBA")
                out = io.BytesIO()
                small.save(out, "WEBP", quality=80)
    except UploadRefused:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ) as error:
        raise not_image from error
    finally:
        data.seek(0)
    return out.getvalue()


# --- In the message -----------------------------------------------------------------------------


def download_path(thread_id: str, attachment_id: str) -> str:
    return reverse("chat:attachment", args=[thread_id, attachment_id])


def thumbnail_path(thread_id: str, attachment_id: str) -> str:
    return reverse("chat:attachment_thumbnail", args=[thread_id, attachment_id])


def sharing_metadata(thread_id: str, files: list[Any], base_url: str) -> dict[str, str]:
    """The message metadata for its files, in the UI library's shape; ``base_url`` (scheme and
    host of the site as the sender reached it) makes the links work for other clients too."""
    entries = [
        {
            "id": str(f.id),
            "name": f.name,
            "extension": extension_of(f.name),
            "url": base_url.rstrip("/") + download_path(thread_id, str(f.id)),
        }
        for f in files
    ]
    return {FILE_SHARING_KEY: json.dumps(entries, ensure_ascii=False)} if entries else {}


def shown_files(metadata: dict[str, str], thread_id: str) -> list[dict[str, Any]]:
    """The files a message's metadata lists that are Kwebbel's own downloads in this thread, as
    the message markup shows them; anything else (other hosts' links, other threads, malformed
    entries) is left out."""
    raw = metadata.get(FILE_SHARING_KEY)
    if not raw or not isinstance(raw, str):
        return []
    try:
        entries = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    shown = []
    for entry in entries[:MAX_SHOWN]:
        if not isinstance(entry, dict):
            continue
        attachment_id = _own_download(entry.get("url"), thread_id)
        name = entry.get("name")
        if attachment_id is None or not isinstance(name, str) or not name.strip():
            continue
        name = _UNSAFE_NAME.sub("", name)[:NAME_MAX_LENGTH]
        image = extension_of(name) in IMAGE_TYPES
        shown.append(
            {
                "id": attachment_id,
                "name": name,
                "extension": extension_of(name),
                "url": download_path(thread_id, attachment_id),
                "thumbnailUrl": thumbnail_path(thread_id, attachment_id) if image else None,
            }
        )
    return shown


def _own_download(url: Any, thread_id: str) -> str | None:
    """The attachment id if ``url`` is Kwebbel's download link for a file of this thread."""
    if not isinstance(url, str) or len(url) > 2000:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or parts.query or parts.fragment:
        return None
    if parts.netloc and not validate_host(parts.hostname or "", _own_hosts()):
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    if match.view_name != "chat:attachment" or match.kwargs.get("thread_id") != thread_id:
        return None
    return str(match.kwargs["attachment_id"])


def _own_hosts() -> list[str]:
    # As Django checks a request's Host (with DEBUG, localhost is allowed too).
    hosts = list(settings.ALLOWED_HOSTS)
    return [*hosts, ".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else hosts


def base_url_of_scope(scope: dict[str, Any]) -> str:
    """Scheme and host of the site as a websocket's page reached it (the handshake's Host was
    checked against ALLOWED_HOSTS by the origin validator)."""
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1")
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return f"{scheme}://{host}" if host else ""


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
