"""One consistent archive of an instance, and bringing it back into an empty one.

``flask --app portal.app backup [--to PATH]`` writes a ``.tar.gz`` holding:

- ``manifest.json``: when, which database, the migration head, the row count of every table,
  each file's size and sha256, and a check value of the master key the key files are wrapped
  with (derived one way from it: it tells whether a secret is the right one, never the secret);
- ``database.sqlite3`` (SQLite's online backup API: a snapshot of the database as committed,
  what is still in the write-ahead log included, while the portal keeps running) or
  ``database.pgdump`` (``pg_dump --format=custom`` of the portal's schema, in the same
  REPEATABLE READ snapshot the row counts are taken in);
- ``uploads/...``: receipts and story media (``UPLOAD_PATH``), taken after the database;
- ``story-keys/*.key``: the story and email key files (``STORY_KEY_PATH``), still wrapped by the
  master key (``STORY_MASTER_KEY``, else ``SECRET_KEY``), which is never in the archive. Without
  that secret the archive's sealed words and media cannot be read: keep it apart from backups.

Files are copied after the database snapshot: a file made later is an extra the archive's rows do
not name (harmless; the key sweep removes unheld keys), and a key destroyed in between (a story
withdrawn) stays destroyed, as its storyteller asked.

``flask --app portal.app restore PATH`` checks every sha256 and that this instance's master
secret opens every key file, refuses when the database has rows or the upload or key folders hold
files (unless ``--force``), then puts the database (a file moved into place / ``pg_restore``), the
files and the keys back, and checks the row counts against the manifest.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, g

from portal.core import keystore
from portal.core.db import utcnow
from portal.core.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
UPLOADS = "uploads"
KEYS = "story-keys"
CHUNK = 1024 * 1024
# Tables an empty instance may already have rows in: Alembic's own, and SQLite's full-text index
# bookkeeping (its config row exists from the start).
BOOKKEEPING = re.compile(r"alembic_version|search_documents_fts_(config|data|idx|docsize|content)")


class BackupError(Exception):
    """Something stops a backup or a restore; the message says what to do."""


@dataclass(frozen=True)
class Written:
    path: Path
    files: int
    rows: int
    head: str
    removed: tuple[Path, ...] = ()  # older archives let go by ``keep``


@dataclass(frozen=True)
class Restored:
    files: int
    rows: int
    head: str


# --- where things are ----------------------------------------------------------------------------


def upload_root() -> Path:
    return Path(current_app.config.get("UPLOAD_PATH") or os.path.join(current_app.instance_path, "uploads"))


def key_root() -> Path:
    return keystore.key_dir()


def code_head() -> str:
    """The newest migration this release has (what ``flask db upgrade`` brings a database to)."""
    directory = current_app.extensions["migrate"].directory
    return str(ScriptDirectory(directory).get_current_head() or "")


def _dialect() -> str:
    return db.engine.dialect.name


def master_check(secret: str) -> str:
    """A value that tells whether ``secret`` is the master secret a backup's keys were wrapped
    with, and nothing else about it (HKDF with a purpose of its own)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal: backup master check")
    return derived.derive(secret.encode()).hex()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files_under(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file() and not path.name.endswith(".tmp"))


# --- the database --------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count_rows(connection: Any, tables: list[str]) -> dict[str, int]:
    return {
        name: int(connection.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0]) for name in sorted(tables)
    }


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:":
        raise BackupError("This instance's SQLite database is in memory: there is no file to back up.")
    return Path(database)


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [row[0] for row in rows]


def _sqlite_head(connection: sqlite3.Connection) -> str:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return ""
    return str(row[0]) if row else ""


def _backup_sqlite(target: Path) -> tuple[dict[str, int], str]:
    """SQLite's online backup: a copy of the database as committed, pages still in the WAL included.
    It is copied in one step, inside one read transaction: a snapshot, while other connections go
    on writing (in WAL mode a reader never blocks a writer)."""
    source = sqlite3.connect(_sqlite_path())
    copy = sqlite3.connect(target)
    try:
        source.execute("PRAGMA busy_timeout=5000")
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
        problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"The copy of the database failed SQLite's integrity check: {problem}")
        return _count_rows(copy, _sqlite_tables(copy)), _sqlite_head(copy)
    finally:
        copy.close()
        source.close()


def _libpq(url: sa.engine.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump / pg_restore (the password goes in the environment,
    never on a command line other users can read)."""
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH. Install PostgreSQL's client programs (the same major "
            "version as the server, e.g. the postgresql-client package) and try again."
        )
    return found


def _run(command: list[str], environment: dict[str, str]) -> None:
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip() or result.stdout.strip()}")


def _pg_schema(connection: Any) -> str:
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar()
    if schema:
        return str(schema)
    path = str(connection.execute(sa.text("SHOW search_path")).scalar())
    first = path.split(",")[0].strip().strip('"')
    return "public" if first in ("", '"$user"', "$user") else first


def _pg_tables(connection: Any, schema: str) -> list[str]:
    rows = connection.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
    ).all()
    return [str(row[0]) for row in rows]


def _pg_head(connection: Any, tables: list[str]) -> str:
    if "alembic_version" not in tables:
        return ""
    found = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return str(found or "")


def _backup_postgresql(target: Path) -> tuple[dict[str, int], str, str]:
    """pg_dump of the portal's schema in the snapshot the row counts are taken in."""
    pg_dump = _tool("pg_dump")
    uri, environment = _libpq(db.engine.url)
    with db.engine.connect() as connection:
        connection.execute(sa.text("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        snapshot = str(connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar())
        schema = _pg_schema(connection)
        tables = _pg_tables(connection, schema)
        rows = {
            name: int(
                connection.execute(sa.text(f"SELECT count(*) FROM {_quoted(schema)}.{_quoted(name)}")).scalar_one()
            )
            for name in sorted(tables)
        }
        head = _pg_head(connection, tables)
        # The snapshot lives as long as this transaction: pg_dump runs inside it.
        _run(
            [
                pg_dump,
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--schema={schema}",
                "--no-owner",
                "--no-privileges",
                f"--file={target}",
                f"--dbname={uri}",
            ],
            environment,
        )
        connection.execute(sa.text("COMMIT"))
    return rows, head, schema


# --- writing the archive ---------------------------------------------------------------------------


def default_archive_path(now: Any = None) -> Path:
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    return Path(current_app.instance_path) / "backups" / f"portal-{stamp}.tar.gz"


def _copy_tree(source: Path, target: Path) -> list[Path]:
    """Copy the files under ``source`` to ``target``; a file deleted meanwhile is left out."""
    copied = []
    for path in _files_under(source):
        relative = path.relative_to(source)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, destination)
        except FileNotFoundError:
            continue
        copied.append(relative)
    return copied


ARCHIVE_NAME = re.compile(r"portal-\d{8}T\d{6}Z\.tar\.gz")


def prune(folder: Path, keep: int) -> tuple[Path, ...]:
    """Delete all but the newest ``keep`` archives this command named (``portal-<time>.tar.gz``)
    in ``folder``; any other file there is left alone."""
    archives = sorted(path for path in folder.iterdir() if path.is_file() and ARCHIVE_NAME.fullmatch(path.name))
    doomed = tuple(archives[: max(len(archives) - keep, 0)])
    for path in doomed:
        path.unlink()
    return doomed


def backup(to: Path | None = None, *, keep: int = 0) -> Written:
    """Write one archive of the database, the uploads and the key files; returns where and what.
    With ``keep``, only the newest ``keep`` archives named by this command stay in its folder."""
    if keep < 0:
        raise BackupError("--keep must be 0 (keep every archive) or more.")
    path = Path(to) if to else default_archive_path()
    if path.exists() and path.is_dir():
        path = path / default_archive_path().name
    if path.exists():
        raise BackupError(f"{path} already exists. Choose another name; a backup never overwrites one.")
    path = path.resolve()
    for root in (upload_root(), key_root()):
        if path.is_relative_to(root.resolve()):
            raise BackupError(f"Write the backup outside {root}: that folder is part of what is backed up.")
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = _write(path, partial)
    except OSError as error:
        with suppress(OSError):  # the folder itself may be what failed
            partial.unlink(missing_ok=True)
        raise BackupError(f"The backup could not be written to {path.parent} ({error}). Nothing was kept.") from error
    removed = prune(path.parent, keep) if keep else ()
    return Written(path, written[0], written[1], written[2], removed)


def _write(path: Path, partial: Path) -> tuple[int, int, str]:
    """Stage the database and files beside ``path``, then write the archive as ``partial`` and
    move it into place (so a half-written archive never has an archive's name)."""
    dialect = _dialect()
    with tempfile.TemporaryDirectory(prefix=".portal-backup-", dir=path.parent) as staging_name:
        staging = Path(staging_name)
        schema = ""
        if dialect == "sqlite":
            database_file = SQLITE_FILE
            rows, head = _backup_sqlite(staging / SQLITE_FILE)
        elif dialect == "postgresql":
            database_file = PG_FILE
            rows, head, schema = _backup_postgresql(staging / PG_FILE)
        else:
            raise BackupError(f"Backups support SQLite and PostgreSQL, not {dialect}.")
        # Files after the database: see the module's docstring for why this order.
        uploads = [Path(UPLOADS) / name for name in _copy_tree(upload_root(), staging / UPLOADS)]
        keys = [Path(KEYS) / name for name in _copy_tree(key_root(), staging / KEYS)]
        members = [Path(database_file), *uploads, *keys]
        manifest = {
            "format": FORMAT,
            "created_at": utcnow().isoformat(),
            "database": {"dialect": dialect, "file": database_file, "schema": schema},
            "migration_head": head,
            "tables": rows,
            "master_key_check": master_check(keystore.master_secret()),
            "files": [
                {
                    "path": member.as_posix(),
                    "size": (staging / member).stat().st_size,
                    "sha256": _sha256(staging / member),
                }
                for member in members
            ],
        }
        # It holds everyone's records: readable by this user only, from its first byte.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            with tarfile.open(fileobj=stream, mode="w:gz") as archive:
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(utcnow().timestamp()), 0o600
                archive.addfile(info, io.BytesIO(data))
                for member in members:
                    archive.add(staging / member, arcname=member.as_posix(), recursive=False)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    return len(members), sum(rows.values()), head


# --- restoring -------------------------------------------------------------------------------------


@contextmanager
def _unpacked(path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if not path.is_file():
        raise BackupError(f"{path} is not a file. Give the path of an archive made by flask backup.")
    with tempfile.TemporaryDirectory(prefix="portal-restore-") as folder_name:
        folder = Path(folder_name)
        try:
            with tarfile.open(path, "r:*") as archive:
                archive.extractall(folder, filter="data")  # no absolute paths, links or ../ escapes
        except (tarfile.TarError, OSError, EOFError) as error:
            raise BackupError(f"{path} is not a readable backup archive ({error}).") from error
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as error:
            raise BackupError(
                f"{path} has no readable {MANIFEST}: it is not an archive made by flask backup."
            ) from error
        if manifest.get("format") != FORMAT:
            raise BackupError(
                f"This archive is in format {manifest.get('format')!r}; this portal reads format {FORMAT}."
            )
        yield folder, manifest


def _verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    listed = {entry["path"] for entry in manifest["files"]}
    for entry in manifest["files"]:
        member = folder / entry["path"]
        if not member.is_file():
            raise BackupError(
                f"The archive is missing {entry['path']}, which its manifest lists. Nothing was restored."
            )
        if _sha256(member) != entry["sha256"]:
            raise BackupError(
                f"{entry['path']} in the archive does not match its sha256: the archive is damaged. Nothing was restored."
            )
    extra = [p.relative_to(folder).as_posix() for p in _files_under(folder) if p.name != MANIFEST]
    unlisted = sorted(set(extra) - listed)
    if unlisted:
        raise BackupError(
            f"The archive holds files its manifest does not list ({', '.join(unlisted[:5])}). Nothing was restored."
        )


def _verify_keys(folder: Path, manifest: dict[str, Any]) -> None:
    secret = keystore.master_secret()
    message = (
        "The key files in this backup cannot be unwrapped with this instance's master secret "
        "(PORTAL_STORY_MASTER_KEY, or PORTAL_SECRET_KEY when that is not set). Set the secret the "
        "backed-up portal used, then restore again. Nothing was restored."
    )
    if manifest.get("master_key_check") != master_check(secret):
        raise BackupError(message)
    master = keystore._master(secret)  # the keystore's own unwrapping: every key must open
    for path in _files_under(folder / KEYS):
        try:
            keystore._unwrap(master, path.stem, path.read_bytes())
        except keystore.KeyGone as error:
            raise BackupError(message + f" ({path.name} does not open.)") from error


def _rows_in_use() -> dict[str, int]:
    """Tables with rows that an empty instance would not have."""
    inspector = sa.inspect(db.engine)
    names = [name for name in inspector.get_table_names() if not BOOKKEEPING.fullmatch(name)]
    with db.engine.connect() as connection:
        counted = {
            name: int(connection.execute(sa.text(f"SELECT count(*) FROM {_quoted(name)}")).scalar_one())
            for name in names
        }
    return {name: count for name, count in counted.items() if count}


def _check_empty() -> None:
    filled = _rows_in_use()
    if filled:
        listed = ", ".join(f"{name} ({count})" for name, count in sorted(filled.items())[:5])
        raise BackupError(
            f"This instance's database is not empty: {listed}. Restore into an empty instance, or add "
            "--force to replace everything in it."
        )
    for root, what in ((upload_root(), "upload"), (key_root(), "story key")):
        if _files_under(root):
            raise BackupError(
                f"This instance's {what} folder ({root}) is not empty. Restore into an empty instance, or add "
                "--force to replace what is there."
            )


def _restore_sqlite(source: Path) -> None:
    target = _sqlite_path()
    db.session.remove()
    db.engine.dispose()  # no connection of ours may hold the old file or its WAL
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, incoming)
    with incoming.open("rb") as stream:
        os.fsync(stream.fileno())
    for suffix in ("-wal", "-shm", "-journal"):  # the old database's log would be replayed onto the new file
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(incoming, target)


def _restore_postgresql(source: Path, manifest: dict[str, Any]) -> None:
    pg_restore = _tool("pg_restore")
    uri, environment = _libpq(db.engine.url)
    backed_up = manifest["database"]["schema"]
    db.session.remove()
    with db.engine.begin() as connection:
        schema = _pg_schema(connection)
        if schema != backed_up:
            raise BackupError(
                f"This backup holds the PostgreSQL schema {backed_up!r}, and this instance uses {schema!r}. "
                f"Restore into a database whose search_path is {backed_up!r}."
            )
        # Empty (or --force): start from a bare schema, which pg_restore fills. One that exists
        # and holds nothing is kept as it is (its owner and grants: public's, say).
        objects = connection.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = n.oid)"
                " + (SELECT count(*) FROM pg_proc WHERE pronamespace = n.oid)"
                " + (SELECT count(*) FROM pg_type WHERE typnamespace = n.oid)"
                " FROM pg_namespace AS n WHERE n.nspname = :schema"
            ),
            {"schema": schema},
        ).scalar()
        if objects:
            connection.execute(sa.text(f"DROP SCHEMA {_quoted(schema)} CASCADE"))
        if objects is None or objects:
            connection.execute(sa.text(f"CREATE SCHEMA {_quoted(schema)}"))
    db.engine.dispose()
    # The dump's own CREATE SCHEMA (and its comment) is left out of the list: the schema is there.
    listing = subprocess.run([pg_restore, "--list", str(source)], capture_output=True, text=True, check=False)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore could not read the database dump: {listing.stderr.strip()}")
    schema_entry = re.compile(r"^\d+; \d+ \d+ (SCHEMA - |COMMENT - SCHEMA )")
    entries = [line for line in listing.stdout.splitlines() if not schema_entry.search(line)]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as chosen:
        chosen.write("\n".join(entries) + "\n")
    try:
        _run(
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--use-list={chosen.name}",
                f"--dbname={uri}",
                str(source),
            ],
            environment,
        )
    finally:
        os.unlink(chosen.name)


def _put_files(source: Path, target: Path) -> int:
    placed = 0
    for path in _files_under(source):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        os.chmod(destination, path.stat().st_mode & 0o777)
        placed += 1
    return placed


def _counts_now() -> dict[str, int]:
    inspector = sa.inspect(db.engine)
    with db.engine.connect() as connection:
        return {
            name: int(connection.execute(sa.text(f"SELECT count(*) FROM {_quoted(name)}")).scalar_one())
            for name in sorted(inspector.get_table_names())
        }


def restore(path: Path, *, force: bool = False) -> Restored:
    """Bring an archive back into this instance (empty unless ``force``)."""
    with _unpacked(Path(path)) as (folder, manifest):
        _verify_files(folder, manifest)
        _verify_keys(folder, manifest)
        dialect = manifest["database"]["dialect"]
        if dialect != _dialect():
            raise BackupError(f"This backup is of a {dialect} database; this instance uses {_dialect()}.")
        if not force:
            _check_empty()
        try:
            if dialect == "sqlite":
                _restore_sqlite(folder / SQLITE_FILE)
            else:
                _restore_postgresql(folder / PG_FILE, manifest)
            placed = _put_files(folder / UPLOADS, upload_root()) + _put_files(folder / KEYS, key_root())
        except OSError as error:
            raise BackupError(
                f"The restore stopped part-way ({error}). Free some space or fix the folder's permissions, "
                "then run it again with --force."
            ) from error
        g.pop("_content_keys", None)  # keys unwrapped before the restore are not this instance's
        counts = _counts_now()
        expected = manifest["tables"]
        if counts != expected:
            wrong = sorted(name for name in set(counts) | set(expected) if counts.get(name) != expected.get(name))
            raise BackupError(
                f"After restoring, these tables' row counts differ from the manifest: {', '.join(wrong[:10])}."
            )
        return Restored(placed, sum(counts.values()), manifest["migration_head"])
