"""Directory demo data: entries for the demo accounts, each showing different things."""

from __future__ import annotations

from portal.accounts.models import User
from portal.core.extensions import db
from portal.directory import services
from portal.directory.models import DirectoryEntry

ENTRIES = [
    # email, name to show, interests, skills, show projects, accepts messages
    (
        "lead@demo.test",
        "Leah",
        ["equality", "relationships", "action"],
        "Facilitation, Co-design, Grant writing",
        True,
        True,
    ),
    (
        "member@demo.test",
        "Lydia",
        ["human", "accessibility", "relationships", "respect"],
        "Peer support, Cooking, Easy read",
        True,
        True,
    ),
    (
        "reviewer@demo.test",
        "Ravi R.",
        ["transparent", "reflexivity", "equality"],
        "Evaluation, Panel review",
        False,
        False,
    ),
    ("staff@demo.test", "Sam (programme team)", ["training", "learning"], "Facilitation, Safeguarding", False, True),
]


def seed(people: dict[str, User]) -> int:
    created = 0
    for email, name, interests, skills, projects, messages in ENTRIES:
        person = people[email]
        if db.session.get(DirectoryEntry, person.id) is not None:
            continue
        services.save_entry(
            person,
            listed=True,
            display_name=name,
            show_pronouns=True,
            show_bio=True,
            show_projects=projects,
            accepts_messages=messages,
            interests=interests,
            skills_text=skills,
        )
        created += 1
    return created
