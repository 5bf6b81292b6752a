"""Two people book the last place at the same moment: one gets it, the other the waiting list.

Each booking runs in its own thread with its own database connection. The first holds the
gathering's lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write lock) and does not commit
until the second is waiting for that lock (on PostgreSQL we see it waiting in ``pg_locks``), so
the two really overlap. Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.edits import EditConflict
from portal.core.extensions import db
from portal.gatherings import services
from portal.gatherings.models import Gathering, Rsvp, RsvpState
from tests import factories
from tests.factories import make_gathering

TIMEOUT = 15


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def _someone_waits_for_a_lock() -> bool:
    with db.engine.connect() as connection:
        return bool(connection.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def test_two_simultaneous_bookings_never_exceed_capacity(app: Any, users: dict[str, User]) -> None:
    gathering_id = make_gathering(users["staff"], capacity=1).id
    first_id, second_id = factories.user().id, factories.user().id
    db.session.rollback()  # this thread holds nothing while the two bookings race
    postgres = db.engine.dialect.name == "postgresql"

    first_holds_lock, second_started = threading.Event(), threading.Event()
    outcome: dict[str, RsvpState] = {}
    errors: list[BaseException] = []

    def first() -> None:
        with app.app_context():
            try:
                gathering = db.session.get(Gathering, gathering_id)
                outcome["first"] = services.book(gathering, db.session.get(User, first_id)).state
                first_holds_lock.set()
                second_started.wait(TIMEOUT)
                if postgres:
                    wait_until(_someone_waits_for_a_lock, "the second booking waits for the gathering's lock")
                db.session.commit()
            except BaseException as error:
                errors.append(error)
                first_holds_lock.set()
            finally:
                db.session.remove()

    def second() -> None:
        with app.app_context():
            try:
                first_holds_lock.wait(TIMEOUT)
                gathering = db.session.get(Gathering, gathering_id)
                person = db.session.get(User, second_id)
                second_started.set()
                outcome["second"] = services.book(gathering, person).state
                db.session.commit()
            except BaseException as error:
                errors.append(error)
                second_started.set()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    assert outcome == {"first": RsvpState.GOING, "second": RsvpState.WAITING}
    db.session.expire_all()
    going = db.session.scalar(
        sa.select(sa.func.count(Rsvp.id)).where(Rsvp.gathering_id == gathering_id, Rsvp.state == RsvpState.GOING)
    )
    assert going == 1


def test_many_simultaneous_bookings_fill_exactly_the_places(app: Any, users: dict[str, User]) -> None:
    gathering_id = make_gathering(users["staff"], capacity=3).id
    people = [factories.user().id for _ in range(6)]
    db.session.rollback()
    start = threading.Barrier(len(people))
    errors: list[BaseException] = []

    def book(person_id: int) -> None:
        with app.app_context():
            try:
                gathering = db.session.get(Gathering, gathering_id)
                person = db.session.get(User, person_id)
                start.wait(TIMEOUT)
                services.book(gathering, person)
                db.session.commit()
            except BaseException as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=book, args=(person_id,)) for person_id in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    db.session.expire_all()
    counts = dict(
        db.session.execute(
            sa.select(Rsvp.state, sa.func.count(Rsvp.id)).where(Rsvp.gathering_id == gathering_id).group_by(Rsvp.state)
        ).all()
    )
    assert counts == {RsvpState.GOING: 3, RsvpState.WAITING: 3}


def _details(gathering: Gathering, **changes: Any) -> services.GatheringDetails:
    fields = {name: getattr(gathering, name) for name in services.GatheringDetails.__dataclass_fields__}
    return services.GatheringDetails(**{**fields, **changes})


def test_two_organisers_saving_at_once_never_overwrite_each_other(app: Any, users: dict[str, User]) -> None:
    """Both opened the form at the same version; the second save waits for the first's lock, then
    sees the new version and is refused (``EditConflict``) instead of writing over it."""
    gathering = make_gathering(users["staff"], capacity=10)
    gathering_id, seen = gathering.id, gathering.version
    staff_id = users["staff"].id
    second_organiser = factories.user(role="staff", name="Second Organiser").id
    db.session.rollback()
    postgres = db.engine.dialect.name == "postgresql"

    first_holds_lock, second_started = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}
    errors: list[BaseException] = []

    def first() -> None:
        with app.app_context():
            try:
                found = db.session.get_one(Gathering, gathering_id)
                services.update_gathering(
                    found, _details(found, place="Library"), by=db.session.get_one(User, staff_id), seen=seen
                )
                first_holds_lock.set()
                second_started.wait(TIMEOUT)
                if postgres:
                    wait_until(_someone_waits_for_a_lock, "the second save waits for the gathering's lock")
                db.session.commit()
            except BaseException as error:
                errors.append(error)
                first_holds_lock.set()
            finally:
                db.session.remove()

    def second() -> None:
        with app.app_context():
            try:
                first_holds_lock.wait(TIMEOUT)
                found = db.session.get_one(Gathering, gathering_id)
                person = db.session.get_one(User, second_organiser)
                details = _details(found, place="Town hall")
                second_started.set()
                services.update_gathering(found, details, by=person, seen=seen)
                db.session.commit()
                outcome["second"] = "saved"
            except EditConflict as conflict:
                outcome["second"] = conflict
                db.session.rollback()
            except BaseException as error:
                errors.append(error)
                second_started.set()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    conflict = outcome["second"]
    assert isinstance(conflict, EditConflict), conflict
    assert [(d.field, d.theirs, d.yours) for d in conflict.differences] == [("place", "Library", "Town hall")]
    db.session.expire_all()
    saved = db.session.get_one(Gathering, gathering_id)
    assert (saved.place, saved.version, saved.changed_by_id) == ("Library", seen + 1, staff_id)
