"""Key files nothing holds (a story never saved, an email whose transaction rolled back) are
destroyed by the daily ``key-sweep`` job once they are a day old; every held key stays."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from portal.core import keystore, outbox
from portal.core.extensions import db
from portal.core.schedule import JOBS
from tests import stories_factories as make


def _age(key_id: str, days: float) -> None:
    path = keystore.key_dir() / f"{key_id}.key"
    then = time.time() - days * 86_400
    os.utime(path, (then, then))


def test_the_sweep_destroys_only_old_keys_that_nothing_holds(app: Any, users: dict[str, Any]) -> None:
    story = make.story(make.storyteller(by=users["staff"]), by=users["staff"], title="A kept story")
    message = outbox.enqueue("notice", "someone@example.test", "A waiting email", "Still to be sent.")
    db.session.commit()
    orphan, fresh_orphan = keystore.create(), keystore.create()
    assert story.key_id and message.key_id
    for key_id in (story.key_id, message.key_id, orphan):
        _age(key_id, 3)

    result = JOBS["key-sweep"].run(datetime.now(UTC))

    assert result == "Destroyed 1 key files that nothing held."
    assert not keystore.exists(orphan)
    assert keystore.exists(story.key_id) and keystore.exists(message.key_id) and keystore.exists(fresh_orphan)
    db.session.expire_all()
    assert story.title == "A kept story" and message.body == "Still to be sent."


def test_a_rolled_back_email_leaves_a_key_the_sweep_takes(app: Any) -> None:
    outbox.enqueue("notice", "someone@example.test", "Never sent", "This change was rolled back.")
    db.session.flush()
    made = {path.stem for path in keystore.key_dir().glob("*.key")}
    db.session.rollback()
    for key_id in made:
        _age(key_id, 2)
    assert keystore.sweep(older_than_seconds=86_400) == len(made) == 1
    assert not list(keystore.key_dir().glob("*.key"))
