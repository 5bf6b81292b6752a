"""Demo learning posts: pilot teams and members across the 18 values, comment threads with
replies and validations, and one flagged comment waiting for a moderator. Idempotent."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.accounts.models import User
from portal.core import vocabulary
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.learning import comments, moderation, posts, validations
from portal.learning.models import LearningPost
from portal.notifications import inbox
from portal.notifications.models import DIGEST, KINDS
from portal.teams.models import TeamMembership

# title, body, values, themes, visibility
POSTS = [
    (
        "Pay people on the day, not next month",
        "We paid contributors in cash vouchers at the end of each session. Attendance doubled and people told us "
        "they felt **valued, not used**.",
        ["reciprocity", "respect"],
        ["outcomes"],
        "public",
    ),
    (
        "Send papers a week early, in large print",
        "Three of our group need more time to read. Sending papers early and in large print meant everyone came "
        "ready to decide, not just the professionals.",
        ["accessibility", "equality"],
        ["empowering"],
        "public",
    ),
    (
        "Who holds the pen holds the power",
        "When a peer researcher wrote the minutes, the decisions changed. Rotate the pen.",
        ["equality", "challenging", "transparent"],
        ["social_justice"],
        "public",
    ),
    (
        "Small cafés, big relationships",
        "Our recovery café became the place people met the council. Tea first, agenda second.",
        ["relationships", "human"],
        ["connecting"],
        "public",
    ),
    (
        "Training each other, both ways",
        "Staff trained peers in facilitation; peers trained staff in listening without fixing.",
        ["training", "learning", "reciprocity"],
        ["empowering"],
        "members",
    ),
    (
        "When the plan broke, we asked the group",
        "Lockdown ended our meetings. The group chose phone trees over video calls, and they worked.",
        ["flexibility", "action", "context"],
        ["efficiency"],
        "public",
    ),
    (
        "Staying after the money ends",
        "Two of our co-researchers now sit on the trust's board. Longevity was the real outcome.",
        ["commitment", "systemic_change"],
        ["outcomes"],
        "public",
    ),
    (
        "Diversity is who is in the room, and who is not",
        "We mapped who never came and went to them instead.",
        ["diversity", "social_justice"],
        ["social_justice"],
        "members",
    ),
    (
        "Looking at ourselves honestly",
        "Every quarter we asked: whose voice did we not hear? It was uncomfortable and useful.",
        ["reflexivity", "transparent"],
        ["connecting"],
        "public",
    ),
]


def seed(people: dict[str, User]) -> int:
    if db.session.scalar(sa.select(sa.func.count(LearningPost.id))):
        return 0
    leads = list(db.session.scalars(sa.select(User).where(User.email.like("pilot%@demo.test")).order_by(User.id)))
    authors = [people["lead@demo.test"], people["member@demo.test"], people["reviewer@demo.test"], *leads]
    project_of = dict(
        db.session.execute(
            sa.select(TeamMembership.user_id, sa.func.min(TeamMembership.project_id)).group_by(TeamMembership.user_id)
        ).all()
    )
    created = 0
    made: list[LearningPost] = []
    start = utcnow() - timedelta(days=len(POSTS) * 3)
    for number, (title, body, values, themes, visibility) in enumerate(POSTS):
        author = authors[number % len(authors)]
        post = posts.create_post(
            author=author,
            title=title,
            body=body,
            visibility=visibility,
            values=values,
            themes=themes,
            project_id=project_of.get(author.id),
        )
        post.created_at = start + timedelta(days=number * 3)
        made.append(post)
        created += 1
    covered = {v for _, _, values, _, _ in POSTS for v in values}
    assert covered == set(vocabulary.VALUES), sorted(set(vocabulary.VALUES) - covered)

    first = made[0]
    voices = [people["member@demo.test"], people["reviewer@demo.test"], people["staff@demo.test"], *leads[:3]]
    top = comments.add_comment(
        first, by=voices[0], body="Vouchers worked for us too, and nobody's benefits were touched."
    )
    reply = comments.add_comment(
        first, by=voices[1], body="Did you check the limits with each person first?", parent_id=top.id
    )
    comments.add_comment(
        first,
        by=db.session.get_one(User, first.author_id),
        body="Yes, on the payments page, before each session.",
        parent_id=top.id,
    )
    comments.add_comment(first, by=voices[2], body="We are adding this to the programme guidance.")
    created += 4
    for voice in voices[1:]:
        if voice.id != first.author_id:
            validations.set_validation(first, by=voice, on=True)
    validations.set_validation(top, by=voices[2], on=True)
    validations.set_validation(reply, by=voices[0], on=True)
    second = made[1]
    thread = comments.add_comment(second, by=voices[3], body="Large print made a difference for me too.")
    comments.add_comment(second, by=voices[4], body="And easy-read summaries on one page.", parent_id=thread.id)
    created += 2
    for voice in voices[:3]:
        if voice.id != second.author_id:
            validations.set_validation(second, by=voice, on=True)

    # one flagged comment waiting for a moderator (below the threshold, so still visible)
    spam = comments.add_comment(made[3], by=voices[5], body="Buy cheap followers at example dot com!")
    moderation.flag(spam, by=people["member@demo.test"], reason="spam", note="Looks like an advert.")
    created += 2
    # Lydia reads the weekly digest, so `send-digest` has someone to write to.
    inbox.save_email_choices(people["member@demo.test"], {*KINDS, DIGEST})
    db.session.flush()
    return created
