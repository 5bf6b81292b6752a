"""Small real media files for the tests, built here (never downloaded), with or without tags.

Uploads are cleaned of their metadata before they are stored (``portal.core.media_metadata``),
and a file that cannot be read is refused, so tests that upload need files that really are
what their first bytes say.
"""

from __future__ import annotations

import io
import struct

from PIL import Image

from portal.core import media_metadata

# One MPEG-1 Layer III frame: 128 kbit/s, 44.1 kHz, no padding (417 bytes with its header).
_MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413


def mp3(*, title: str = "", artist: str = "", comment: str = "", frames: int = 8) -> bytes:
    """A short silent MP3; with ID3v2 tags when any of ``title``, ``artist`` or ``comment`` is given."""
    import mutagen.id3

    sound = _MP3_FRAME * frames
    if not (title or artist or comment):
        return sound
    tags = mutagen.id3.ID3()
    if title:
        tags.add(mutagen.id3.TIT2(encoding=3, text=[title]))
    if artist:
        tags.add(mutagen.id3.TPE1(encoding=3, text=[artist]))
    if comment:
        tags.add(mutagen.id3.COMM(encoding=3, lang="eng", desc="", text=[comment]))
    buffer = io.BytesIO(sound)
    tags.save(buffer)
    data = buffer.getvalue()
    # ID3v1 too: 128 bytes at the end, where older players look.
    return data + b"TAG" + artist.encode()[:30].ljust(30, b"\x00") * 3 + b"2026" + b"\x00" * 30 + b"\xff"


def jpeg(*, gps: bool = False, author: str = "", size: tuple[int, int] = (8, 6)) -> bytes:
    """A small JPEG; with EXIF GPS position, an Artist field and a rotation when asked."""
    picture = Image.new("RGB", size, (200, 120, 40))
    out = io.BytesIO()
    if not (gps or author):  # already as the portal stores it, so a served copy equals it
        picture.save(out, format="JPEG")
        return media_metadata.clean(out.getvalue(), "image/jpeg")
    exif = Image.Exif()
    if author:
        exif[0x013B] = author  # Artist
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to show
    if gps:
        exif.get_ifd(0x8825).update(
            {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.2)}  # latitude and longitude
        )
    picture.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png(*, text: str = "") -> bytes:
    """A small PNG; with a text chunk naming someone when ``text`` is given."""
    from PIL import PngImagePlugin

    picture = Image.new("RGB", (4, 4), (10, 200, 90))
    info = PngImagePlugin.PngInfo()
    if text:
        info.add_text("Author", text)
        info.add_itxt("Description", text)
    out = io.BytesIO()
    picture.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def pdf(*, author: str = "") -> bytes:
    """A one-page PDF; with document information and XMP naming ``author`` when given."""
    import pikepdf

    document = pikepdf.new()
    document.add_blank_page(page_size=(200, 200))
    if author:
        document.docinfo["/Author"] = author
        document.docinfo["/Title"] = f"Receipt from {author}"
        with document.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:creator"] = [author]
    out = io.BytesIO()
    document.save(out)
    # Without an author, already as the portal stores it, so a served copy equals it.
    return out.getvalue() if author else media_metadata.clean(out.getvalue(), "application/pdf")


def wav(*, artist: str = "") -> bytes:
    """A short silent WAV; with a LIST/INFO chunk naming ``artist`` when given."""
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    samples = b"\x00\x00" * 800
    chunks += b"data" + struct.pack("<I", len(samples)) + samples
    if artist:
        name = artist.encode() + b"\x00"
        name += b"\x00" * (len(name) & 1)
        info = b"INFO" + b"IART" + struct.pack("<I", len(name)) + name
        chunks += b"LIST" + struct.pack("<I", len(info)) + info
    body = b"WAVE" + chunks
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def m4a(*, title: str = "", artist: str = "") -> bytes:
    """A minimal M4A (no samples) with iTunes-style tags and an XMP box when tags are given."""
    import mutagen.mp4

    # Movie header: version/flags, times, time scale 1000, duration 0, rate, volume, matrix, next track.
    mvhd = _box(
        b"mvhd",
        b"\x00" * 4
        + struct.pack(">IIII", 0, 0, 1000, 0)
        + struct.pack(">IH", 0x00010000, 0x0100)
        + b"\x00" * 10
        + struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
        + b"\x00" * 24
        + struct.pack(">I", 2),
    )
    data = _box(b"ftyp", b"M4A \x00\x00\x02\x00M4A isom") + _box(b"moov", mvhd) + _box(b"mdat", b"")
    if not (title or artist):
        return data
    buffer = io.BytesIO(data)
    tagged = mutagen.mp4.MP4(buffer)
    if tagged.tags is None:
        tagged.add_tags()
    assert tagged.tags is not None
    if title:
        tagged.tags["\xa9nam"] = [title]
    if artist:
        tagged.tags["\xa9ART"] = [artist]
    buffer.seek(0)
    tagged.save(buffer)
    xmp = (
        b"\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac"
        + f"<x:xmpmeta>{artist}</x:xmpmeta>".encode()
    )
    return buffer.getvalue() + _box(b"uuid", xmp)


def ogg(*, artist: str = "") -> bytes:
    """The header pages of an Ogg Vorbis stream (no sound), with a comment naming ``artist`` when given."""
    import mutagen.ogg

    identification = (
        b"\x01vorbis" + struct.pack("<IBIiiiB", 0, 1, 44100, 0, 128000, 0, 0xB8) + b"\x01"  # blocksizes, framing
    )
    vendor = b"test encoder"
    comments = [f"ARTIST={artist}".encode()] if artist else []
    comment = b"\x03vorbis" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", len(comments))
    comment += b"".join(struct.pack("<I", len(c)) + c for c in comments) + b"\x01"
    setup = b"\x05vorbis" + b"\x00" * 32
    first, second = mutagen.ogg.OggPage(), mutagen.ogg.OggPage()
    first.serial = second.serial = 7
    first.first, first.packets = True, [identification]
    second.sequence, second.packets = 1, [comment, setup]
    last = mutagen.ogg.OggPage()
    last.serial, last.sequence, last.last, last.position, last.packets = 7, 2, True, 44100, [b"\x00" * 16]
    return first.write() + second.write() + last.write()
