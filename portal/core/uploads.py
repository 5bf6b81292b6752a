"""Uploaded files: size-limited, type checked from their first bytes, stored under random names.

Files live in ``PORTAL_UPLOAD_PATH`` (default ``instance/uploads``), never under ``static/``,
and are served only through views that check permissions first. A client's file name is
kept for display only; it never becomes part of a path. The stored name's extension and the
type a file is served with come from its first bytes (``sniff``), never from the client's
file name or the type its browser claimed: a script named ``receipt.pdf`` is refused, and a
PDF named ``photo.html`` is stored as ``<random>.pdf`` and downloaded as ``photo.pdf``.

A file is written whole or not at all: when the disk is full or cannot be written (``ENOSPC``,
``EROFS``, ``EACCES`` ...) the part already written is removed and ``StorageUnavailable`` is
raised, which the error handler (core/web.py) answers with a 507 or 503 page after rolling back,
so no row points at a file that is not there.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from werkzeug.utils import secure_filename

from portal.core import media_metadata
from portal.core.errors import RuleBroken

# First bytes of each accepted type. Anything else is refused, whatever its name says.
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


# The extension each type we accept (here and in ``stories.media``) is stored and served with.
EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/ogg": "ogg",
    "audio/wav": "wav",
    "video/mp4": "mp4",
    "video/webm": "webm",
}
# Our own random names: 32 hex digits, with the sniffed type's extension (files stored before
# extensions were added have none).
STORED_NAME = re.compile(r"[0-9a-f]{32}(\.[a-z0-9]{2,4})?")


# The disk has no room left (or the account's quota is used up): a 507 page; any other failure
# to write is a 503 ("cannot save files at the moment").
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageUnavailable(Exception):
    """An upload could not be written; nothing of it was kept."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"could not write an upload: {error}")
        self.full = error.errno in DISK_FULL
        self.status = 507 if self.full else 503


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    filename: str
    content_type: str


def readable_size(size: int) -> str:
    """5242880 -> '5 MB'; 1572864 -> '1.5 MB'; 512000 -> '500 KB'."""
    if size < 1024 * 1024:
        return f"{-(-size // 1024)} KB"
    megabytes = (Decimal(size) / (1024 * 1024)).quantize(Decimal("0.1"))
    return f"{megabytes.normalize():f} MB"


def upload_dir(kind: str) -> Path:
    root = current_app.config.get("UPLOAD_PATH") or os.path.join(current_app.instance_path, "uploads")
    path = Path(root) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def sniff(head: bytes) -> str | None:
    return next((kind for signature, kind in SIGNATURES.items() if head.startswith(signature)), None)


def store(stream: BinaryIO, filename: str, *, kind: str, max_bytes: int, field: str) -> StoredFile:
    data = stream.read(max_bytes + 1)
    if not data:
        raise RuleBroken(field, "The file you chose is empty. Choose another file.")
    if len(data) > max_bytes:
        raise RuleBroken(field, f"The file must be no bigger than {readable_size(max_bytes)}. Choose a smaller file.")
    content_type = sniff(data[:16])
    if content_type is None:
        raise RuleBroken(field, "The file must be a PDF, JPEG or PNG.")
    data = media_metadata.clean(data, content_type, field=field)  # no EXIF, GPS or author fields
    stored_name = write(kind, data, content_type)
    return StoredFile(stored_name, download_name(filename, content_type, fallback="receipt"), content_type)


def write(kind: str, data: bytes, content_type: str) -> str:
    """Keep ``data`` under a new random name with the extension of its sniffed type; returns the name."""
    stored_name = f"{secrets.token_hex(16)}.{EXTENSIONS[content_type]}"
    path: Path | None = None
    try:
        path = upload_dir(kind) / stored_name
        with path.open("xb") as stored:
            stored.write(data)
            stored.flush()
            os.fsync(stored.fileno())  # a full disk can show only now (delayed allocation)
    except OSError as error:
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError:  # a read-only disk never let it be made
                pass
        raise StorageUnavailable(error) from error
    return stored_name


def download_name(filename: str, content_type: str, *, fallback: str) -> str:
    """The client's file name made safe, with the extension of the type the file really is."""
    stem = secure_filename(filename).rpartition(".")
    return f"{(stem[0] or stem[2])[:100] or fallback}.{EXTENSIONS.get(content_type, 'bin')}"


def served_type(path: Path, sniffer: Callable[[bytes], str | None] | None = None) -> str:
    """The type to serve a stored file with, sniffed again from its first bytes (whatever a row says)."""
    with path.open("rb") as stored:
        head = stored.read(16)
    return (sniffer or sniff)(head) or "application/octet-stream"


def path_of(kind: str, stored_name: str) -> Path:
    if not STORED_NAME.fullmatch(stored_name):  # our own random names only
        raise FileNotFoundError(stored_name)
    return upload_dir(kind) / stored_name


def remove(kind: str, stored_name: str | None) -> None:
    if stored_name:
        path_of(kind, stored_name).unlink(missing_ok=True)
