"""The task queue: Huey, on SQLite beside the database by default, on Redis in production.

Work that should not hold up a request, or that must happen without one (emails, digests,
reminders, rounds opening and closing by date, search upkeep, purges), runs as a *task*:

- ``@task(retries=2)`` turns a function into one. Calling ``enqueue(fn, *args)`` queues it;
  ``enqueue_after_commit`` queues it once the current transaction commits (and never if it
  rolls back), so a worker can never look for a row that is not there yet.
- A task runs inside an app context with its own session, on a *worker*: ``flask --app
  portal.app worker`` in production (one or more processes, see README), threads inside
  ``flask --app portal.app serve`` in development.
- Where the queue lives is ``PORTAL_TASK_QUEUE_URL``: empty means a SQLite file
  ``tasks.sqlite3`` in the instance folder (the embedded default: nothing to install),
  ``redis://...`` means Redis, ``memory`` keeps it in the process (the tests drain it by hand).

Why Huey: it is small, well kept, has a periodic scheduler built in, and stores its queue in
SQLite or Redis with the same API, so the embedded default and production run the same code.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from portal.core.extensions import db
from portal.core.logging_setup import log_context

log = logging.getLogger("portal.tasks")

# One queue object for the process, made before any task is declared; ``init_tasks`` gives it
# the storage the app's settings ask for.
queue = Huey("portal", results=False, utc=True, storage_class=MemoryStorage)
_apps: list[Flask] = []
_PENDING = "portal.tasks.after_commit"
_COMMITTED = "portal.tasks.committed"


def storage_for(app: Flask) -> Any:
    url, name = app.config["TASK_QUEUE_URL"], app.config["TASK_QUEUE_NAME"]
    if url == "memory":
        return MemoryStorage(name)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStorage(name, url=url)
    filename = url.removeprefix("sqlite:///") if url else os.path.join(app.instance_path, "tasks.sqlite3")
    os.makedirs(os.path.dirname(filename) or ".", exist_ok=True)
    return SqliteStorage(name, filename=filename, journal_mode="wal", timeout=10)


def init_tasks(app: Flask) -> None:
    """Point the queue at this app's storage; tasks run in this app's context."""
    queue.storage = storage_for(app)
    _apps[:] = [app]
    app.extensions["portal.tasks"] = queue


def current_app_for_tasks() -> Flask:
    if not _apps:
        raise RuntimeError("init_tasks(app) has not run in this process")
    return _apps[0]


def task(*, retries: int = 0, retry_delay: int = 0, retry_backoff: float = 0) -> Callable[[Callable[..., Any]], Any]:
    """Declare a task. It runs in an app context; its session is closed however it ends."""

    def decorator(fn: Callable[..., Any]) -> Any:
        name = f"{fn.__module__}.{fn.__name__}"

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            # Every line the task logs names it and its Huey id (core/logging_setup.py).
            with log_context(task=name, task_id=getattr(kwargs.get("task"), "id", "-")):
                with current_app_for_tasks().app_context():
                    try:
                        return fn(*args, **kwargs)
                    except Exception:
                        db.session.rollback()
                        raise
                    finally:
                        db.session.remove()

        return queue.task(
            retries=retries, retry_delay=retry_delay, retry_backoff=retry_backoff, name=name, context=True
        )(run)

    return decorator


def enqueue(fn: Any, *args: Any, **options: Any) -> None:
    """Queue a task now (``options``: retries, delay ...)."""
    queue.enqueue(fn.s(*args, **options))


def enqueue_after_commit(fn: Any, *args: Any, **options: Any) -> None:
    """Queue a task when the current transaction commits; forget it if it rolls back."""
    pending = db.session.info.setdefault(_PENDING, [])
    if not any(item[0] is fn and item[1] == args for item in pending):
        pending.append((fn, args, options))


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    # SQLAlchemy sends after_commit for a savepoint's release too, while the outer transaction
    # (whose rows the task will read) is still uncommitted; so only note it here, and queue in
    # after_transaction_end, which says which transaction it was.
    session.info[_COMMITTED] = True


@event.listens_for(Session, "after_transaction_end")
def _queue_or_forget(session: Session, transaction: SessionTransaction) -> None:
    committed = session.info.pop(_COMMITTED, False)
    if transaction.parent is not None or transaction.nested:
        return  # a savepoint or an inner transaction: the work waits for the outermost
    pending = session.info.pop(_PENDING, [])
    if not committed:
        return  # rolled back: the work it asked for never happened
    for fn, args, options in pending:
        try:
            enqueue(fn, *args, **options)
        except Exception:  # the queue is down: the periodic sweep picks the work up later
            log.exception("Could not queue %s", getattr(fn, "name", fn))


def drain(*, include_scheduled: bool = True, limit: int = 1000) -> int:
    """Run every queued task here and now (tests and ``flask jobs run``); returns how many ran.

    Retries scheduled for later run at once when ``include_scheduled`` is true."""
    ran = 0
    while ran < limit:
        item = queue.dequeue()
        if item is None and include_scheduled:
            due = queue.scheduled()
            for scheduled in due:
                scheduled.eta = None
                queue.enqueue(scheduled)
            queue.storage.flush_schedule()
            item = queue.dequeue()
        if item is None:
            break
        queue.execute(item)
        ran += 1
    return ran
