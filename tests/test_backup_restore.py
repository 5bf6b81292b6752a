"""flask backup / restore: one consistent archive, taken while a writer is busy, brought back into
a fresh instance with every table's rows and every file's bytes as they were, and a sealed story
readable again; a restore refuses a damaged archive, a wrong master secret and a full instance."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from portal.core import backup
from portal.core.config import sqlalchemy_url
from portal.core.extensions import db
from portal.core.outbox import OutboxMessage
from tests import factories, full_dataset
from tests.helpers import (
    TEST_DATABASE_URL,
    drop_schema,
    in_schema,
    make_app,
    recreate_schema,
    without_schema,
    worker_name,
)

SCHEMA = f"backup_{worker_name()}".lower()
TARGET_DATABASE = f"backup_restore_{worker_name()}".lower()
WRITER_TABLE = "rate_limit_counters"  # the busy writer's rows; every other table stays still


@dataclass
class Instances:
    source: Flask
    target: Flask
    make_target: Any  # (**settings) -> a fresh app on the target database and folders


def _uri_of(folder: Path, database: str) -> str:
    if not TEST_DATABASE_URL:
        return "sqlite:///" + str(folder / "portal.sqlite3")
    url = sa.engine.make_url(sqlalchemy_url(TEST_DATABASE_URL, str(folder))).set(database=database)
    return in_schema(url.render_as_string(hide_password=False), SCHEMA)


def _admin_engine() -> sa.Engine:
    return sa.create_engine(without_schema(sqlalchemy_url(TEST_DATABASE_URL, "/")), isolation_level="AUTOCOMMIT")


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[Instances]:
    """A source instance (its own SQLite file, or its own schema) and a target with nothing in it
    (a new SQLite file, or a new PostgreSQL database where the same schema name is free)."""
    source_dir, target_dir = tmp_path / "source", tmp_path / "target"
    source_uri = _uri_of(source_dir, sa.engine.make_url(TEST_DATABASE_URL or "sqlite://").database or "")
    target_uri = _uri_of(target_dir, TARGET_DATABASE)
    if TEST_DATABASE_URL:
        recreate_schema(source_uri, SCHEMA)
        admin = _admin_engine()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{TARGET_DATABASE}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{TARGET_DATABASE}"'))
    source = make_app(source_uri, source_dir)
    made: list[Flask] = [source]

    def make_target(**settings: Any) -> Flask:
        app = make_app(target_uri, target_dir, **settings)
        made.append(app)
        return app

    yield Instances(source, make_target(), make_target)
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if TEST_DATABASE_URL:
        drop_schema(source_uri, SCHEMA)
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{TARGET_DATABASE}" WITH (FORCE)'))
        admin.dispose()


# --- a writer that keeps committing while the backup runs ------------------------------------------


class Writer:
    """Commits one row after another into WRITER_TABLE from its own connection until stopped. On
    SQLite it never checkpoints, so what it wrote stays in the -wal file, not the database file."""

    def __init__(self, uri: str) -> None:
        self.engine = sa.create_engine(uri, poolclass=sa.pool.StaticPool)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", lambda dbapi, record: dbapi.execute("PRAGMA wal_autocheckpoint=0"))
        self.connection = self.engine.connect()  # held open: closing SQLite's last connection checkpoints
        self.written = 0
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def write(self, name: str) -> None:
        self.connection.execute(
            sa.text(f"INSERT INTO {WRITER_TABLE} (key, count, expires_at) VALUES (:key, 1, 1.5)"), {"key": name}
        )
        self.connection.commit()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.write(f"writer-{self.written:06d}")
                with self.progress:
                    self.written += 1
                    self.progress.notify_all()
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error
            with self.progress:
                self.progress.notify_all()

    def wait_for(self, count: int) -> None:
        with self.progress:
            assert self.progress.wait_for(lambda: self.written >= count or self.error is not None, timeout=60)
        assert self.error is None, self.error

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert self.error is None, self.error
        self.connection.close()
        self.engine.dispose()


# --- comparing two instances -----------------------------------------------------------------------


def _tables() -> list[str]:
    return sorted(sa.inspect(db.engine).get_table_names())


def _rows(table: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as connection:
        rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()
    return sorted((tuple(row) for row in rows), key=repr)


def _snapshot(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    with app.app_context():
        return {table: _rows(table) for table in _tables()}


def _files(app: Flask) -> dict[str, bytes]:
    with app.app_context():
        roots = {"uploads": backup.upload_root(), "story-keys": backup.key_root()}
    return {
        f"{name}/{path.relative_to(root).as_posix()}": path.read_bytes()
        for name, root in roots.items()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _without_wal(app: Flask, folder: Path) -> set[str]:
    """The writer's keys in a plain copy of the database file alone (what `cp` would have kept)."""
    with app.app_context():
        source = Path(db.engine.url.database or "")
    copy = folder / "copied-file-only.sqlite3"
    shutil.copyfile(source, copy)
    connection = sqlite3.connect(copy)
    try:
        return {row[0] for row in connection.execute(f"SELECT key FROM {WRITER_TABLE}")}
    finally:
        connection.close()


def db_dialect(app: Flask) -> str:
    with app.app_context():
        return db.engine.dialect.name


def _checkpoint(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _invoke(app: Flask, *args: str) -> Any:
    """A flask command as `flask --app portal.app ...` runs it (in an app context of its own)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


# --- the tests -------------------------------------------------------------------------------------


def test_a_backup_taken_while_writing_restores_every_row_file_and_sealed_story(
    instances: Instances, tmp_path: Path
) -> None:
    source = instances.source
    with source.app_context():
        upgrade()
        filled = full_dataset.fill()
        db.session.remove()
        uri = source.config["SQLALCHEMY_DATABASE_URI"]
    _checkpoint(source)  # from here on, the writer's rows are in the WAL only (SQLite)
    writer = Writer(uri)
    for number in range(5):
        writer.write(f"pending-{number}")
    if not TEST_DATABASE_URL:
        assert not _without_wal(source, tmp_path) & {f"pending-{n}" for n in range(5)}  # a file copy loses them
    writer.thread.start()
    writer.wait_for(5)
    archive = tmp_path / "nightly.tar.gz"
    try:
        started = writer.written
        result = _invoke(source, "backup", "--to", str(archive))
        assert result.exit_code == 0, result.output
        writer.wait_for(started + 3)  # it went on writing: the portal never stopped
    finally:
        writer.finish()
    assert "Backed up" in result.output and archive.is_file()

    with tarfile.open(archive) as opened:
        manifest_file = opened.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    with source.app_context():
        head = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
    assert manifest["migration_head"] == head and manifest["database"]["dialect"] == db_dialect(source)
    assert {entry["path"] for entry in manifest["files"]} >= {
        f"uploads/story-media/{name.rpartition('/')[2]}" for name in _files(source) if "story-media" in name
    }
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"])

    target = instances.target
    restored = _invoke(target, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "Restored" in restored.output and "db upgrade" not in restored.output  # already at this release's head

    before, after = _snapshot(source), _snapshot(target)
    assert sorted(after) == sorted(before)
    for table in before:
        if table != WRITER_TABLE:
            assert after[table] == before[table], table
    # The writer's table: a consistent moment of it. Every row committed before the backup began
    # (the pending ones never checkpointed), and of the busy writer's rows a run from the first.
    kept = {row[0] for row in after[WRITER_TABLE]}
    assert {row[0] for row in before[WRITER_TABLE] if not str(row[0]).startswith(("writer-", "pending-"))} <= kept
    assert {f"pending-{n}" for n in range(5)} <= kept
    written = sorted(key for key in kept if key.startswith("writer-"))
    assert len(written) >= started and written == [f"writer-{n:06d}" for n in range(len(written))]
    assert manifest["tables"][WRITER_TABLE] == len(after[WRITER_TABLE])
    assert all(manifest["tables"][table] == len(rows) for table, rows in after.items())
    assert _files(target) == _files(source)

    with target.app_context():
        assert full_dataset.read_story(filled.story_id) == (
            full_dataset.STORY_TITLE,
            full_dataset.STORY_BODY,
            filled.media_bytes,
        )
        message = db.session.get(OutboxMessage, filled.message_id)
        assert message is not None and message.subject == full_dataset.EMAIL_SUBJECT
        later = factories.user(name="After The Restore")  # the ids carry on after the restored ones
        assert later.id > max(row[0] for row in before["users"])


def test_restore_refuses_a_damaged_archive_a_wrong_secret_and_an_instance_with_data(
    instances: Instances, tmp_path: Path
) -> None:
    source = instances.source
    with source.app_context():
        upgrade()
        filled = full_dataset.fill()
        archive = backup.backup(tmp_path / "backup.tar.gz").path
    target = instances.target

    # A changed byte in one file of the archive: nothing is restored.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as original, tarfile.open(damaged, "w:gz") as copy:
        for member in original.getmembers():
            data = original.extractfile(member)
            content = data.read() if data else b""
            if member.name.startswith("uploads/story-media/"):
                content = bytes([content[0] ^ 1]) + content[1:]
            copy.addfile(member, fileobj=io.BytesIO(content))
    refused = _invoke(target, "restore", str(damaged))
    assert refused.exit_code != 0 and "does not match its sha256" in refused.output
    assert _files(instances.target) == {}

    # Another master secret: the key files would not open, so nothing is restored.
    other = instances.make_target(SECRET_KEY="another-secret-key-of-a-different-portal")
    refused = _invoke(other, "restore", str(archive))
    assert refused.exit_code != 0 and "cannot be unwrapped" in refused.output
    with other.app_context():
        assert backup._rows_in_use() == {}

    # Not an archive at all.
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    refused = _invoke(target, "restore", str(junk))
    assert refused.exit_code != 0 and "not a readable backup archive" in refused.output

    # Into an instance with data: refused, unless --force, which replaces it.
    assert _invoke(target, "restore", str(archive)).exit_code == 0
    with instances.target.app_context():
        factories.user(name="Someone New Here")
    refused = _invoke(target, "restore", str(archive))
    assert refused.exit_code != 0 and "is not empty" in refused.output and "--force" in refused.output
    forced = _invoke(target, "restore", "--force", str(archive))
    assert forced.exit_code == 0, forced.output
    with instances.target.app_context():
        db.session.remove()
        assert full_dataset.read_story(filled.story_id)[0] == full_dataset.STORY_TITLE
        assert db.session.scalar(sa.text("SELECT count(*) FROM users WHERE name = 'Someone New Here'")) == 0


def test_a_nightly_backup_into_a_folder_keeps_the_newest_archives(instances: Instances, tmp_path: Path) -> None:
    source = instances.source
    with source.app_context():
        upgrade()
    folder = tmp_path / "nightly"
    folder.mkdir()
    for name in ("portal-20260101T020000Z.tar.gz", "portal-20260102T020000Z.tar.gz", "notes.txt"):
        (folder / name).write_text("an older archive")
    result = _invoke(source, "backup", "--to", str(folder), "--keep", "2")
    assert result.exit_code == 0, result.output
    left = sorted(path.name for path in folder.iterdir())
    assert len(left) == 3 and "notes.txt" in left and "portal-20260102T020000Z.tar.gz" in left
    (made,) = [name for name in left if name not in ("notes.txt", "portal-20260102T020000Z.tar.gz")]
    assert backup.ARCHIVE_NAME.fullmatch(made) and "Deleted 1 older archives" in result.output
    assert oct((folder / made).stat().st_mode & 0o777) == "0o600"
    again = _invoke(source, "backup", "--to", str(folder), "--keep", "-1")
    assert again.exit_code != 0 and "--keep must be" in again.output
    with source.app_context():
        uploads = backup.upload_root()
    inside = _invoke(source, "backup", "--to", str(uploads / "backup.tar.gz"))
    assert inside.exit_code != 0 and "part of what is backed up" in inside.output
    blocked = _invoke(source, "backup", "--to", str(folder / "notes.txt" / "backup.tar.gz"))  # a file, not a folder
    assert blocked.exit_code != 0 and "could not be written" in blocked.output
    assert sorted(path.name for path in folder.iterdir()) == left  # nothing half-written left behind
