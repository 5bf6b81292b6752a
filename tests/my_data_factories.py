"""A person with a record of every kind the portal keeps about people, each carrying a word of
their own (for "Download my data" and "Erase me": tests/test_my_data.py, tests/test_erase_me.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from portal.accounts.models import Role, User
from portal.core import audit
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import london_today
from portal.directory import services as directory
from portal.gatherings.models import Gathering
from portal.grants.models import Application, Invitation, InvitationState
from portal.learning import comments, validations
from portal.learning.models import Flag, FlagReason, LearningPost
from portal.remuneration import claims as claim_services
from portal.remuneration.models import ActivityType, Claim, ClaimState, PaymentMethod, PaymentPreference
from portal.stories import consent
from portal.stories.models import ConsentMethod, Story, Storyteller
from portal.teams.models import Project
from tests import factories, stories_factories


@dataclass
class Everything:
    person: User
    word: str  # in every record of theirs: absent everywhere after "Erase me"
    storyteller: Storyteller
    story: Story
    post: LearningPost
    reply_post: LearningPost  # someone else's post they commented on
    gathering: Gathering
    paid_claim: Claim
    draft_claim: Claim
    application: Application
    project: Project
    extra: dict[str, Any] = field(default_factory=dict)


def everything(word: str, *, other: User, staff: User, activity: ActivityType, first: str = "Ottilie") -> Everything:
    """``word`` (letters only) names the person and is in their words in every area."""
    person = factories.user(
        name=f"{first} {word}",
        email=f"{word.lower()}@example.test",
        bio=f"I grow {word} tomatoes.",
        access_needs=f"{word} large print please",
    )
    # Stories: a storyteller record linked to the account, demographics, a published story.
    teller = stories_factories.storyteller(user=person, by=person)
    consent.record_demographics(
        teller, consent.DemographicAnswers(ethnicity=f"{word} heritage", age=44), by=person, method=ConsentMethod.SELF
    )
    db.session.commit()
    story = stories_factories.story(
        teller, by=person, staff=staff, title=f"{word} by the river", body=f"The {word} story body.", summary="Summary."
    )
    # Learning: their own post (someone else replies), and a comment on someone else's post.
    post = factories.make_post(person, title=f"{word} learning", body=f"What {word} taught us.")
    comments.add_comment(post, by=other, body=f"Thank you, from {other.name}.")
    reply_post = factories.make_post(other, title=f"A post by someone else {other.id}", body="Other words.")
    comments.add_comment(reply_post, by=person, body=f"My {word} reply.")
    validations.set_validation(reply_post, by=person, on=True)
    db.session.add(Flag(reporter_id=person.id, post_id=reply_post.id, reason=FlagReason.OTHER, note=f"{word} flag"))
    db.session.commit()
    # Directory: an entry, and a message each way.
    for someone in (person, other):
        directory.save_entry(
            someone,
            listed=True,
            display_name=someone.name,
            show_pronouns=False,
            show_bio=True,
            show_projects=False,
            accepts_messages=True,
            interests=[],
            skills_text=f"{word} knitting" if someone is person else "Gardening",
        )
    db.session.commit()
    directory.send_message(person, other, f"Hello from {word}.")
    directory.send_message(other, person, f"A reply from {other.name}.")
    db.session.commit()
    # Gatherings: a booking with access needs.
    gathering = factories.make_gathering(staff, title=f"Gathering {person.id}")
    factories.book(gathering, person, access_needs=f"{word} ramp")
    # Money: a paid claim (kept by law) and a draft (never sent), and payment preferences.
    paid = factories.submitted(person, activity)
    paid.notes = f"{word} claim note"
    paid.state = ClaimState.PAID
    paid.paid_on = utcnow().date()
    db.session.add(
        PaymentPreference(
            user_id=person.id, method=PaymentMethod.CHARITY, charity_name=f"{word} trust", weekly_limit_pence=19600
        )
    )
    db.session.commit()
    draft = claim_services.create_claim(
        person,
        claim_services.ClaimDetails(activity.id, factories.CLAIM_DAY, Decimal("2"), None, notes=f"{word} draft note"),
        today=london_today(),
    )
    db.session.commit()
    # Teams and grants: a project team place, an application, an invitation to their address.
    project = factories.project(title=f"Project {person.id}", lead=staff, members=(person,))
    phase = factories.make_phase(name=f"Phase for {person.id}")
    application = factories.make_application(phase, person, title=f"{word} application")
    db.session.add(
        Invitation(
            application_id=application.id,
            email=other.email,
            invited_by_id=person.id,
            expires_at=utcnow() + timedelta(days=7),
            state=InvitationState.PENDING,
        )
    )
    db.session.add(
        Invitation(
            project_id=project.id,
            email=person.email,
            invited_by_id=staff.id,
            expires_at=utcnow() + timedelta(days=7),
            state=InvitationState.PENDING,
        )
    )
    # The audit log: something about them that names their address.
    audit.record("user.email_verified", person, actor=person, after={"email": person.email})
    audit.record("user.role_changed", person, actor=staff, note=f"Checked with {person.name}")
    db.session.commit()
    return Everything(person, word, teller, story, post, reply_post, gathering, paid, draft, application, project)


def world() -> dict[str, Any]:
    """Staff, an admin, a rate card, and two people with everything."""
    staff = factories.user(role=Role.STAFF, name="Staff Member")
    admin = factories.user(role=Role.ADMIN, name="Admin Person")
    activity = factories.rate_card()["Meeting"]
    placeholder = factories.user(name="Placeholder Person")
    alice = everything("Quokkafern", other=placeholder, staff=staff, activity=activity)
    bob = everything("Wombatmoss", other=alice.person, staff=staff, activity=activity, first="Barnaby")
    return {"staff": staff, "admin": admin, "alice": alice, "bob": bob, "activity": activity}
