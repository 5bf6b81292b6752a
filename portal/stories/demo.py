"""Demo storytellers and stories: 100 storytellers whose figures reproduce seed 000's summary
(55% lived experience, 62% facilitators, 55% professionals, two-thirds female, nine LGBTQIA+,
a quarter disabled, ages 20–85, and the nine lived-experience areas with the seed's counts),
and a dozen published stories across the five themes, one of them featured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from portal.core.extensions import db
from portal.stories import moderation
from portal.stories.consent import DemographicAnswers, record_demographics
from portal.stories.models import PREFER_NOT_TO_SAY, ConsentMethod, Scope, Storyteller
from portal.stories.telling import ConsentRecord, StoryDetails, create_storyteller, storyteller_for, tell_story
from portal.teams.models import Project

TOTAL = 100
# Seed 000: "addiction (5); homelessness (4); poverty (3); adverse childhood experiences (2);
# prison (2); adoption (1); care (1); psychiatric hospital (1) and sexual exploitation (1)".
AREAS = (
    ["addiction"] * 5
    + ["homelessness"] * 4
    + ["poverty"] * 3
    + ["adverse_childhood_experiences"] * 2
    + ["prison"] * 2
    + ["adoption", "care", "psychiatric_hospital", "sexual_exploitation"]
)
ETHNICITIES = (
    ["White British"] * 70
    + ["British Pakistani"] * 8
    + ["Black British"] * 7
    + ["Bangladeshi"] * 5
    + ["Mixed race"] * 6
    + ["Minority ethnic"] * 4
)
FIRST_NAMES = [
    "Amira",
    "Ben",
    "Chloe",
    "Dev",
    "Ellie",
    "Farid",
    "Grace",
    "Hameed",
    "Isla",
    "Jon",
    "Kemi",
    "Liam",
    "Maya",
    "Nadia",
    "Owen",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Usha",
    "Vic",
    "Wren",
    "Yusuf",
    "Zara",
]
SURNAMES = "ABCDEFGHJKLMNOPRSTW"


def answers_for(i: int) -> DemographicAnswers:
    """Person ``i`` of 100: the assignments below reproduce the seed's published figures."""
    roles = [
        role for role, yes in (("lived_experience", i < 55), ("facilitator", i >= 38), ("professional", i >= 45)) if yes
    ]
    gender = "female" if i % 3 != 2 or i >= 99 else "male"  # 67 female
    if i in (50, 80):
        gender = PREFER_NOT_TO_SAY
    if i == 62:
        gender = "non_binary"
    return DemographicAnswers(
        roles=roles,
        sectors=[("research", "policy", "services")[i % 3]],
        lived_experience_areas=[AREAS[i]] if i < len(AREAS) else [],
        gender=gender,
        lgbtqia="yes" if i % 11 == 3 else (PREFER_NOT_TO_SAY if i % 20 == 7 else "no"),  # 9 yes
        disability="yes" if i % 4 == 1 else "no",  # 25 yes
        ethnicity=ETHNICITIES[(i * 7) % TOTAL],
        age=20 + (i * 37) % 66,  # every age from 20 to 85
    )


STORIES: list[dict[str, Any]] = [
    {
        "teller": "member",
        "title": "Lydia's story: from service user to co-designer",
        "summary": "How being paid and listened to on a recovery café project changed what the café became, and me.",
        "themes": ["outcomes", "empowering"],
        "values": ["equality", "reciprocity", "learning"],
        "featured": True,
        "body": "I came to the first meeting expecting to be *consulted*. Instead we were asked "
        "to decide.\n\nWe chose the opening hours, the menu and who would be trained as peer supporters. "
        "Six months on, the café is full on the evenings people said they needed it.\n\n- Paid for my time\n"
        "- Asked before, not after\n- Told what happened to our ideas",
    },
    {
        "teller": 7,
        "title": "Hameed's story: slower at the start, faster at the end",
        "summary": "A commissioner on why co-producing a service took longer to plan and far less time to fix.",
        "themes": ["efficiency"],
        "values": ["context", "commitment"],
        "body": "We spent three extra months at the start. We saved a year of changes later, because the people "
        "who would use the service had already told us what would not work.",
    },
    {
        "teller": 12,
        "title": "Ashleigh's story: being heard about care",
        "summary": "A care leaver on what changed when young people sat on the panel that made the decisions.",
        "themes": ["social_justice"],
        "values": ["equality", "challenging", "systemic_change"],
        "body": "For years people talked about us. On the panel, we talked with them, and the decisions were different.",
    },
    {
        "teller": 20,
        "title": "Finding my voice again",
        "anonymous": True,
        "pseudonym": "River",
        "summary": "After years in hospital, co-producing a peer group gave me a way to be useful again.",
        "themes": ["empowering", "connecting"],
        "values": ["human", "respect"],
        "body": "I did not think anyone wanted to hear from me. The group needed exactly what I knew.",
    },
    {
        "teller": 25,
        "title": "The workshop that changed our research question",
        "summary": "A researcher on how lived experience turned a study round in one afternoon.",
        "themes": ["outcomes"],
        "values": ["challenging", "reflexivity"],
        "body": "We arrived with a question. We left with a better one, written by the people it was about.",
    },
    {
        "teller": 31,
        "title": "Tea, trust and time",
        "scope": Scope.NETWORK,
        "summary": "Why the informal half hour before every meeting mattered more than the agenda.",
        "themes": ["connecting"],
        "values": ["relationships", "respect", "human"],
        "body": "Trust was built over tea. Nobody wrote that in the plan, but it was the plan.",
    },
    {
        "teller": 40,
        "title": "Paying people properly",
        "values": ["reciprocity", "transparent"],
        "summary": "A facilitator on getting payments right so that nobody's benefits were put at risk.",
        "themes": ["social_justice"],
        "body": "We checked everyone's earnings limits before the first session. Nobody lost a penny of benefits.",
    },
    {
        "teller": 44,
        "title": "Learning to share the pen",
        "anonymous": True,
        "pseudonym": "A facilitator",
        "summary": "What I had to unlearn as a professional before co-production could work.",
        "themes": ["empowering"],
        "values": ["reflexivity", "training", "equality"],
        "body": "My job was to make space, not to fill it. That was harder than I expected.",
    },
    {
        "teller": 52,
        "title": "A recording from the community day",
        "media_link": "https://example.org/recording",
        "summary": "Voices from the community day, recorded and transcribed with everyone's consent.",
        "themes": ["connecting", "outcomes"],
        "values": ["diversity", "accessibility"],
        "transcript": "Speaker one: I came because my neighbour asked me.\nSpeaker two: I stayed because we "
        "actually decided things.",
        "body": "",
    },
    {
        "teller": 60,
        "title": "Building a service that lasts",
        "scope": Scope.NETWORK,
        "summary": "Two years on, the peer support line we co-designed is still running.",
        "themes": ["efficiency", "outcomes"],
        "values": ["commitment", "action"],
        "body": "It lasts because the people who use it still run it.",
    },
    {
        "teller": 71,
        "title": "Accessible from the start",
        "summary": "Designing meetings that worked for everyone, not just for those who could already come.",
        "themes": ["social_justice", "connecting"],
        "values": ["accessibility", "flexibility"],
        "body": "Large print, step-free rooms and a break every hour. Small things; everyone came back.",
    },
    {
        "teller": 88,
        "title": "Hope for what comes next",
        "summary": "Why taking part left me more hopeful about services than I had been in years.",
        "themes": ["connecting", "empowering"],
        "values": ["human", "relationships"],
        "body": "For the first time, I saw my ideas in something real.",
    },
]


def seed(people: dict[str, Any]) -> int:
    """Create the demo storytellers and stories once (skipped when any storyteller exists)."""
    if db.session.scalar(sa.select(Storyteller.id).limit(1)) is not None:
        return 0
    staff = people["staff@demo.test"]
    project = db.session.scalar(sa.select(Project).order_by(Project.id).limit(1))
    tellers = [storyteller_for(people["member@demo.test"])]
    for i in range(1, TOTAL):
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {SURNAMES[i % len(SURNAMES)]}."
        tellers.append(create_storyteller(display_name=name, by=staff))
    for i, teller in enumerate(tellers):
        record_demographics(teller, answers_for(i), by=staff, method=ConsentMethod.WRITTEN)
    db.session.flush()
    created = TOTAL * 2
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    for number, spec in enumerate(STORIES):
        teller = tellers[0] if spec["teller"] == "member" else tellers[spec["teller"]]
        by = people["member@demo.test"] if spec["teller"] == "member" else staff
        method = ConsentMethod.SELF if spec["teller"] == "member" else ConsentMethod.SPOKEN_RECORDED
        details = StoryDetails(
            title=spec["title"],
            summary=spec["summary"],
            body=spec.get("body", ""),
            transcript=spec.get("transcript", ""),
            project_id=project.id if project and number < 3 else None,
            themes=spec["themes"],
            values=spec["values"],
            scope=spec.get("scope", Scope.PUBLIC),
            anonymous=spec.get("anonymous", False),
            pseudonym=spec.get("pseudonym", ""),
            media_link=spec.get("media_link", ""),
        )
        story = tell_story(teller, details, by=by, consent=ConsentRecord(method, start + timedelta(days=number)))
        db.session.flush()
        moderation.start_review(story, by=staff)
        moderation.publish(story, by=staff)
        story.published_at = start + timedelta(days=number, hours=2)
        story.featured = bool(spec.get("featured"))
        created += 1
    waiting = tell_story(
        tellers[3],
        StoryDetails(
            title="My first meeting as a panel member",
            summary="Nervous, then surprised to be listened to.",
            body="I nearly did not go. I am glad I did.",
            themes=["empowering"],
            values=["respect"],
        ),
        by=staff,
        consent=ConsentRecord(ConsentMethod.WRITTEN, start),
    )
    db.session.flush()
    return created + (waiting is not None)
