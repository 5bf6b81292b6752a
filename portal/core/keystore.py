"""Content keys kept outside the database, one small file each, so that destroying a key makes
every copy of what it sealed unreadable at once (crypto-shredding).

Why files and not a table: a row deleted from PostgreSQL lives on in dead row versions, the
write-ahead log, replicas and every backup taken since; SQLite keeps it in its WAL and free
pages. Text sealed with a key that no longer exists anywhere is unreadable in all of those
copies, whatever the database kept. So each record that must be erasable (a story) gets its own
random 256-bit data key; the key lives in ``<STORY_KEY_PATH>/<key id>.key`` (default: the
``story-keys`` folder in the instance folder), wrapped (AES-GCM) by a master key derived with
HKDF from ``STORY_MASTER_KEY``, or from ``SECRET_KEY`` when that is not set. The database holds
only the key's random id and the sealed text.

Files are written whole or not at all (a temporary file, fsync, ``os.replace``, fsync of the
folder), readable by the portal's user only (0600). ``destroy`` overwrites the file, unlinks it
and syncs the folder. ``rotate`` re-wraps every key file under the current master key without
touching the database. Unwrapped keys are cached for one app context (one request), so a page
of 25 stories reads 25 small files and runs no extra query.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, g

FORMAT = b"\x01"  # the layout of a key file: format byte, 12-byte nonce, wrapped key + tag
NONCE_BYTES = 12
KEY_ID = re.compile(r"[0-9a-f]{32}")
_WRAPPING = b"portal: story key wrapping"


class KeyGone(Exception):
    """The key was destroyed (or cannot be opened): what it sealed cannot be read."""


def key_dir() -> Path:
    root = current_app.config.get("STORY_KEY_PATH") or os.path.join(current_app.instance_path, "story-keys")
    path = Path(root)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def master_secret() -> str:
    return str(current_app.config.get("STORY_MASTER_KEY") or current_app.config["SECRET_KEY"])


@functools.lru_cache(maxsize=4)
def _master(secret: str) -> AESGCM:
    """The master key's cipher, derived once per process for each secret (a page that shows 25
    stories opens 25 key files; deriving it again for each cost as much as the opening)."""
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_WRAPPING).derive(secret.encode()))


def _path(key_id: str) -> Path:
    if not KEY_ID.fullmatch(key_id):  # our own random ids only: never a path from elsewhere
        raise KeyGone(key_id)
    return key_dir() / f"{key_id}.key"


def _cache() -> dict[str, bytes]:
    cache: dict[str, bytes] = g.setdefault("_content_keys", {})
    return cache


def _wrap(master: AESGCM, key_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + master.encrypt(nonce, data_key, key_id.encode())


def _unwrap(master: AESGCM, key_id: str, blob: bytes) -> bytes:
    if blob[:1] != FORMAT:
        raise KeyGone(key_id)
    nonce, wrapped = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return master.decrypt(nonce, wrapped, key_id.encode())
    except InvalidTag as error:
        raise KeyGone(key_id) from error


def _sync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` as ``path`` whole or not at all, readable by this user only."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    _sync_dir(path.parent)


def create() -> str:
    """A new random data key, stored wrapped; returns its id (no database id is needed)."""
    key_id = secrets.token_hex(16)
    data_key = AESGCM.generate_key(bit_length=256)
    _write(_path(key_id), _wrap(_master(master_secret()), key_id, data_key))
    _cache()[key_id] = data_key
    return key_id


def create_many(count: int) -> list[str]:
    """``count`` new keys, as ``create`` makes each (every file written whole and synced), with
    the master key derived once and the folder synced once at the end: for a run of emails."""
    master, folder, cache = _master(master_secret()), key_dir(), _cache()
    made = []
    for _ in range(count):
        key_id = secrets.token_hex(16)
        data_key = AESGCM.generate_key(bit_length=256)
        path = _path(key_id)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, _wrap(master, key_id, data_key))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
        cache[key_id] = data_key
        made.append(key_id)
    if made:
        _sync_dir(folder)
    return made


def data_key(key_id: str) -> bytes:
    """The unwrapped key, or ``KeyGone`` when its file is gone or the master key does not open it."""
    cache = _cache()
    if key_id in cache:
        return cache[key_id]
    try:
        blob = _path(key_id).read_bytes()
    except FileNotFoundError as error:
        raise KeyGone(key_id) from error
    cache[key_id] = found = _unwrap(_master(master_secret()), key_id, blob)
    return found


def exists(key_id: str) -> bool:
    try:
        data_key(key_id)
    except KeyGone:
        return False
    return True


def destroy(key_id: str) -> None:
    """Overwrite and delete the key file: everything sealed with it is unreadable from now on."""
    _cache().pop(key_id, None)
    path = _path(key_id)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as stored:
        stored.write(os.urandom(size))
        stored.flush()
        os.fsync(stored.fileno())
    path.unlink()
    _sync_dir(path.parent)


# Who holds keys: each returns the key ids its records still use (stories, waiting emails).
HOLDERS: list[Callable[[], set[str]]] = []


def register_holder(holder: Callable[[], set[str]]) -> Callable[[], set[str]]:
    HOLDERS.append(holder)
    return holder


def sweep(*, older_than_seconds: float) -> int:
    """Destroy key files no record holds (made for a story never saved, or an email whose
    transaction rolled back), once older than any transaction could be. Returns how many."""
    held: set[str] = set().union(*(holder() for holder in HOLDERS))
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in key_dir().glob("*.key"):
        if KEY_ID.fullmatch(path.stem) and path.stem not in held and path.stat().st_mtime < cutoff:
            destroy(path.stem)
            removed += 1
    return removed


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    already_current: int
    unopened: list[str]  # key ids neither secret opens (left as they are)


def rotate(old_secret: str) -> Rotation:
    """Re-wrap every key file from the master key of ``old_secret`` to the current one. Safe to
    run again after an interruption: a file the current key already opens is left alone."""
    old, new = _master(old_secret), _master(master_secret())
    rewrapped, current, unopened = 0, 0, []
    for path in sorted(key_dir().glob("*.key")):
        key_id, blob = path.stem, path.read_bytes()
        if not KEY_ID.fullmatch(key_id):
            continue
        try:
            _unwrap(new, key_id, blob)
            current += 1
            continue
        except KeyGone:
            pass
        try:
            key = _unwrap(old, key_id, blob)
        except KeyGone:
            unopened.append(key_id)
            continue
        _write(path, _wrap(new, key_id, key))
        rewrapped += 1
    _cache().clear()
    return Rotation(rewrapped, current, unopened)


# --- sealing with a data key ---------------------------------------------------------------------


def seal_bytes(key: bytes, data: bytes, *, purpose: str) -> bytes:
    """AES-256-GCM: nonce then ciphertext and tag; ``purpose`` (say, the column) is bound in, so
    sealed text moved to another field does not open."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, data, purpose.encode())


def open_bytes(key: bytes, sealed: bytes, *, purpose: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], purpose.encode())
    except InvalidTag as error:
        raise KeyGone(purpose) from error


def seal_text(key: bytes, text: str, *, purpose: str) -> str:
    """Sealed text as URL-safe base64 (empty stays empty: nothing to hide, and no key needed)."""
    if not text:
        return ""
    return base64.urlsafe_b64encode(seal_bytes(key, text.encode(), purpose=purpose)).decode()


def open_text(key: bytes, sealed: str, *, purpose: str) -> str:
    if not sealed:
        return ""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
    except ValueError as error:
        raise KeyGone(purpose) from error
    return open_bytes(key, raw, purpose=purpose).decode()


# --- sealed fields on a model ----------------------------------------------------------------------


class Sealable(Protocol):
    def seal(self, purpose: str, text: str) -> str: ...

    def unseal(self, purpose: str, sealed: str) -> str: ...


class SealedText:
    """A field that is plain text to Python and sealed in the column ``sealed_<name>``, with the
    owner's own key (its ``seal`` / ``unseal``): the database, its WAL and its backups never
    hold the words."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.column = f"sealed_{name}"

    @overload
    def __get__(self, record: None, owner: type) -> SealedText: ...

    @overload
    def __get__(self, record: Any, owner: type) -> str: ...

    def __get__(self, record: Any, owner: type) -> SealedText | str:
        if record is None:
            return self
        sealable: Sealable = record
        return sealable.unseal(self.name, getattr(record, self.column))

    def __set__(self, record: Any, value: str) -> None:
        sealable: Sealable = record
        setattr(record, self.column, sealable.seal(self.name, value))
