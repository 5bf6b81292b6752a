"""Uploaded media without the details hidden inside it: names, places, dates, devices.

A phone's photo carries the GPS position it was taken at; an MP3 tagged on someone's laptop
carries their name, and a comment may name their street. None of it is needed to look at a
receipt or listen to a story, so every upload is cleaned before it is stored (``clean``), and
what is stored is what is served:

- JPEG and PNG: the pixels are decoded (with the camera's rotation applied) and encoded again
  into a new file, so no EXIF, GPS, XMP, ICC profile or text chunk can come along (Pillow).
- MP3: ID3 (version 1 and 2) and APEv2 tags are deleted (mutagen).
- OGG (Vorbis, Opus, FLAC, Speex, Theora): the comments are deleted; the encoder's vendor string stays
  (mutagen).
- M4A and MP4: the iTunes-style tags are deleted (mutagen), then every other box that holds
  details (``udta``, ``meta``, ``uuid`` as used for XMP) is blanked into a ``free`` box of the same size,
  so the sound and picture data do not move and players skip it.
- WAV: only the ``fmt``, ``fact`` and ``data`` chunks are kept; ``LIST``/``INFO``, ``id3``, ``bext``
  and every other chunk go.
- PDF: the document information (author, title, creator...) and every XMP metadata stream are
  removed (pikepdf). Text and pictures on the pages are left as they are.

A type that cannot be cleaned (WebM video: no well-kept library removes Matroska tags) and a file
that cannot be read as the type its first bytes claim are refused with a message naming what is
accepted; nothing is stored.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Callable

import mutagen
import mutagen.apev2
import mutagen.id3
import mutagen.mp3
import mutagen.mp4
import mutagen.ogg
import pikepdf
from PIL import Image, ImageOps

from portal.core.errors import RuleBroken

ACCEPTED_MEDIA = "audio (MP3, M4A, OGG or WAV) or video (MP4)"
ACCEPTED_DOCUMENTS = "a PDF, JPEG or PNG"

# Boxes of an MP4 file that hold details about the file rather than its sound or picture.
_MP4_DETAIL_BOXES = {b"udta", b"meta", b"uuid", b"XMP_"}
# Boxes that contain other boxes, where detail boxes may be found.
_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
# The chunks of a WAV file needed to play it.
_WAV_KEPT = {b"fmt ", b"fact", b"data"}


def clean(data: bytes, content_type: str, *, field: str = "file") -> bytes:
    """``data`` without embedded metadata, or RuleBroken(field, ...) when it cannot be cleaned."""
    cleaner = _CLEANERS.get(content_type)
    if cleaner is None:
        raise RuleBroken(field, _refusal(content_type))
    try:
        return cleaner(data)
    except RuleBroken as broken:
        raise RuleBroken(field, broken.message) from None
    except Exception:  # any library's "cannot read this" is the same answer to a person
        raise RuleBroken(field, _unreadable(content_type)) from None


def _refusal(content_type: str) -> str:
    if content_type == "video/webm":
        return (
            "We cannot remove the hidden details (such as names or places) from WebM videos, so we do not "
            f"accept them. Choose {ACCEPTED_MEDIA} instead."
        )
    return f"This type of file cannot be accepted. Choose {ACCEPTED_MEDIA}, or {ACCEPTED_DOCUMENTS}."


def _unreadable(content_type: str) -> str:
    name = _NAMES.get(content_type, "file")
    accepted = ACCEPTED_DOCUMENTS if content_type in _DOCUMENT_TYPES else ACCEPTED_MEDIA
    return f"We could not read this {name} file, so we cannot remove its hidden details. Choose {accepted} that opens on your device."


def _image(data: bytes, image_format: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # a huge picture is refused, not decoded
        with Image.open(io.BytesIO(data)) as original:
            if original.format != image_format:
                raise ValueError(original.format)
            upright = ImageOps.exif_transpose(original)  # the camera's rotation, applied to the pixels
            upright.load()
    # A new image from the pixels alone: nothing of the original's ``info`` (EXIF, XMP, ICC, text) is kept.
    fresh = Image.frombytes(upright.mode, upright.size, upright.tobytes())
    options: dict[str, object] = {}
    if upright.mode in ("P", "PA") and (palette := upright.getpalette()) is not None:
        fresh.putpalette(palette)
    if image_format == "PNG" and "transparency" in upright.info:
        options["transparency"] = upright.info["transparency"]
    if image_format == "JPEG":
        if fresh.mode not in ("L", "RGB", "CMYK"):
            fresh = fresh.convert("RGB")
        options["quality"] = 92
    out = io.BytesIO()
    fresh.save(out, format=image_format, **options)
    return out.getvalue()


def _jpeg(data: bytes) -> bytes:
    return _image(data, "JPEG")


def _png(data: bytes) -> bytes:
    return _image(data, "PNG")


def _mp3(data: bytes) -> bytes:
    buffer = io.BytesIO(data)
    if not isinstance(mutagen.File(buffer), mutagen.mp3.MP3):  # raises, or is None, when it is not MPEG audio
        raise ValueError("not mp3")
    buffer.seek(0)
    mutagen.id3.delete(buffer, delete_v1=True, delete_v2=True)
    buffer.seek(0)
    mutagen.apev2.delete(buffer)
    return buffer.getvalue()


def _ogg(data: bytes) -> bytes:
    buffer = io.BytesIO(data)
    found = mutagen.File(buffer)
    if not isinstance(found, mutagen.ogg.OggFileType):
        raise ValueError("not ogg")
    buffer.seek(0)
    found.delete(buffer)
    return buffer.getvalue()


def _mp4(data: bytes) -> bytes:
    buffer = io.BytesIO(data)
    tagged = mutagen.File(buffer)
    if not isinstance(tagged, mutagen.mp4.MP4):
        raise ValueError("not mp4")
    buffer.seek(0)
    tagged.delete(buffer)
    cleaned = bytearray(buffer.getvalue())
    _blank_mp4_boxes(cleaned, 0, len(cleaned), top=True)
    return bytes(cleaned)


def _blank_mp4_boxes(data: bytearray, start: int, end: int, *, top: bool = False) -> None:
    """Turn each detail box between ``start`` and ``end`` into a zeroed ``free`` box of the same size."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
            header = 16
        elif size == 0:
            size = end - at  # runs to the end of its parent
        if size < header or at + size > end:
            raise ValueError("broken box")
        if kind in _MP4_DETAIL_BOXES:
            data[at + 4 : at + 8] = b"free"
            data[at + header : at + size] = bytes(size - header)
        elif kind in _MP4_CONTAINERS:
            _blank_mp4_boxes(data, at + header, at + size)
        at += size
    if top and at != end:
        raise ValueError("trailing bytes")


def _wav(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not wav")
    kept: list[bytes] = []
    at, end = 12, min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    while at + 8 <= end:
        kind, size = struct.unpack("<4sI", data[at : at + 8])
        chunk = data[at : at + 8 + size + (size & 1)]  # chunks are padded to an even length
        if kind in _WAV_KEPT:
            kept.append(chunk)
        at += 8 + size + (size & 1)
    if not any(chunk[:4] == b"fmt " for chunk in kept) or not any(chunk[:4] == b"data" for chunk in kept):
        raise ValueError("no sound")
    body = b"WAVE" + b"".join(kept)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pdf(data: bytes) -> bytes:
    try:
        document = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        raise RuleBroken(
            "file", "This PDF is protected by a password. Save a copy without the password, or take a photo instead."
        ) from None
    with document:
        if "/Info" in document.trailer:
            del document.trailer["/Info"]
        for thing in document.objects:
            if isinstance(thing, pikepdf.Dictionary | pikepdf.Stream) and "/Metadata" in thing:
                del thing["/Metadata"]
        out = io.BytesIO()
        document.save(out, fix_metadata_version=False, deterministic_id=True)
    return out.getvalue()


_CLEANERS: dict[str, Callable[[bytes], bytes]] = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "application/pdf": _pdf,
    "audio/mpeg": _mp3,
    "audio/ogg": _ogg,
    "audio/mp4": _mp4,
    "video/mp4": _mp4,
    "audio/wav": _wav,
}
_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "application/pdf": "PDF",
    "audio/mpeg": "MP3",
    "audio/ogg": "OGG",
    "audio/mp4": "M4A",
    "video/mp4": "MP4",
    "audio/wav": "WAV",
}
_DOCUMENT_TYPES = {"image/jpeg", "image/png", "application/pdf"}
