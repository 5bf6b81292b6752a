"""Story audio and video: size-limited, type checked from the first bytes, random names.

Each file is sealed with its story's own key (``core.keystore``), so withdrawing the story
makes every copy of it unreadable. Stored beside the receipts (``portal.uploads``) under ``PORTAL_UPLOAD_PATH/story-media``, never
under ``static/``, and served only through the story's media route after a visibility check,
with the extension and type sniffed from the file's first bytes, never the client's.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from portal.core import keystore, media_metadata, uploads
from portal.core.errors import RuleBroken
from portal.stories.models import MediaKind

KIND = "story-media"


def sniff(head: bytes) -> tuple[MediaKind, str] | None:
    """What a file is from its first bytes, or None when it is not audio or video we play."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"M4A") or brand.startswith(b"M4B"):
            return MediaKind.AUDIO, "audio/mp4"
        return MediaKind.VIDEO, "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaKind.VIDEO, "video/webm"
    if head.startswith(b"OggS"):
        return MediaKind.AUDIO, "audio/ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return MediaKind.AUDIO, "audio/wav"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return MediaKind.AUDIO, "audio/mpeg"
    return None


PURPOSE = "stories.media"


def store(stream: BinaryIO, *, max_bytes: int, key_id: str, field: str = "media_file") -> tuple[str, MediaKind, str]:
    """Save an upload sealed with the story's key ``key_id``; returns (stored name, kind, content
    type) or raises RuleBroken."""
    data = stream.read(max_bytes + 1)
    if not data:
        raise RuleBroken(field, "The file you chose is empty. Choose another file.")
    if len(data) > max_bytes:
        raise RuleBroken(
            field, f"The file must be no bigger than {uploads.readable_size(max_bytes)}. Choose a smaller file."
        )
    found = sniff(data[:16])
    if found is None:
        raise RuleBroken(field, "The file must be audio (MP3, M4A, OGG or WAV) or video (MP4).")
    data = media_metadata.clean(data, found[1], field=field)  # no names, places or dates from its tags
    sealed = keystore.seal_bytes(keystore.data_key(key_id), data, purpose=PURPOSE)
    return uploads.write(KIND, sealed, found[1]), found[0], found[1]


def read(stored_name: str, key_id: str | None) -> bytes:
    """The file as it was uploaded; ``FileNotFoundError`` when it, or the story's key, is gone."""
    try:
        return keystore.open_bytes(keystore.data_key(key_id or ""), path_of(stored_name).read_bytes(), purpose=PURPOSE)
    except keystore.KeyGone as error:
        raise FileNotFoundError(stored_name) from error


def remove(stored_name: str | None) -> None:
    uploads.remove(KIND, stored_name)


def path_of(stored_name: str) -> Path:
    return uploads.path_of(KIND, stored_name)


def served_type(data: bytes) -> str:
    """The type a file is played with: sniffed again from its own first bytes."""
    found = sniff(data[:16])
    return found[1] if found else "application/octet-stream"
