"""Uploaded files: size-limited, type checked from their first bytes, stored under random names.

Files live in ``PORTAL_UPLOAD_PATH`` (default ``instance/uploads``), never under ``static/``,
and are served only through views that check permissions first. A client's file name is
kept for display only; it never becomes part of a path.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from werkzeug.utils import secure_filename

from portal.core.errors import RuleBroken

# First bytes of each accepted type. Anything else is refused, whatever its name says.
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


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
    stored_name = secrets.token_hex(16)
    (upload_dir(kind) / stored_name).write_bytes(data)
    display = secure_filename(filename)[:120] or "receipt"
    return StoredFile(stored_name, display, content_type)


def path_of(kind: str, stored_name: str) -> Path:
    if not stored_name.isalnum():  # our own random hex names only
        raise FileNotFoundError(stored_name)
    return upload_dir(kind) / stored_name


def remove(kind: str, stored_name: str | None) -> None:
    if stored_name:
        path_of(kind, stored_name).unlink(missing_ok=True)
