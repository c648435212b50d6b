"""Checking uploaded files before they are stored: the type from the
content's first bytes (a name or a browser's Content-Type can say
anything), and the size."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.core.files.uploadedfile import UploadedFile

from .conf import setting

# (content type, extension stored, leading bytes)
_SIGNATURES = (
    ("application/pdf", ".pdf", b"%PDF-"),
    ("image/png", ".png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", ".jpg", b"\xff\xd8\xff"),
)
ACCEPTED = "PDF, PNG or JPEG"


class UploadRejected(ValueError):
    """A file that is not accepted; the message says why, for the uploader."""


@dataclass(frozen=True)
class CheckedUpload:
    """An accepted file: its type (from the content), a safe display name,
    the name to store under (with the type's extension), size and digest."""

    file: UploadedFile
    content_type: str
    display_name: str
    storage_name: str
    size: int
    sha256: str


def upload_max_bytes() -> int:
    return setting("ARREARS_PORTAL_UPLOAD_MAX_MB") * 1024 * 1024


def _display_name(raw: str | None) -> str:
    # Only the last path part, printable, short: it is shown, never used as a path.
    name = PurePath((raw or "upload").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    return name.strip()[:150] or "upload"


def upload_check(file: UploadedFile) -> CheckedUpload:
    """Accept a PDF, PNG or JPEG of at most ARREARS_PORTAL_UPLOAD_MAX_MB.
    Raises UploadRejected naming the file and the reason."""
    name = _display_name(file.name)
    limit = upload_max_bytes()
    size = file.size or 0
    if size > limit:
        raise UploadRejected(
            f"{name} is {size / 1024 / 1024:.1f} MB; files may be at most "
            f"{limit // 1024 // 1024} MB"
        )
    if size == 0:
        raise UploadRejected(f"{name} is empty")
    file.seek(0)
    head = file.read(16)
    found = next((sig for sig in _SIGNATURES if head.startswith(sig[2])), None)
    if found is None:
        raise UploadRejected(f"{name} is not a {ACCEPTED} file")
    content_type, extension, _ = found
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return CheckedUpload(
        file=file,
        content_type=content_type,
        display_name=name,
        storage_name=f"upload{extension}",
        size=size,
        sha256=digest.hexdigest(),
    )
