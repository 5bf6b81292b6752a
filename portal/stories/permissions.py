"""Rules for storytellers and their stories, by story state."""

from __future__ import annotations

from typing import Any

from portal.core.permissions import is_staff, register, signed_in
from portal.stories.library import may_view, owns
from portal.stories.models import StoryState

STAFF_ONLY = "This is for programme staff."


def own_record(user: Any, storyteller: Any) -> bool:
    return signed_in(user) and storyteller is not None and storyteller.user_id == user.id


register(
    {
        "stories.tell": lambda user, obj: signed_in(user),
        "stories.moderate": (lambda user, obj: is_staff(user), STAFF_ONLY),
        "storytellers.manage": (lambda user, obj: is_staff(user), STAFF_ONLY),  # list, add, import, enter on behalf
        "stories.export": (lambda user, obj: is_staff(user), STAFF_ONLY),
        "stories.exact_summary": (lambda user, obj: is_staff(user), STAFF_ONLY),
        "story.view": (may_view, "This story is not shared with you."),
        "story.edit": (
            lambda user, story: (
                owns(user, story) and story.state in (StoryState.SUBMITTED, StoryState.CHANGES_REQUESTED)
            ),
            "A story can be changed by its storyteller until it is published.",
        ),
        "story.history": (
            lambda user, story: (
                story is not None and story.state != StoryState.WITHDRAWN and (is_staff(user) or owns(user, story))
            ),
            "Only the storyteller and programme staff can see the saved versions of a story.",
        ),
        "story.approve": (
            lambda user, story: owns(user, story) and story.state == StoryState.AWAITING_APPROVAL,
            "Only the storyteller can approve the changes, while the story is waiting for their approval.",
        ),
        "story.ask_setting": (
            lambda user, story: owns(user, story) and story.state != StoryState.WITHDRAWN,
            "Only the storyteller can choose whether they are asked before their story is published.",
        ),
        "story.withdraw": (
            lambda user, story: (
                story is not None and story.state != StoryState.WITHDRAWN and (is_staff(user) or owns(user, story))
            ),
            "Only the storyteller and programme staff can withdraw a story.",
        ),
        "storyteller.manage": (
            lambda user, storyteller: own_record(user, storyteller) or (is_staff(user) and storyteller is not None),
            "Only the storyteller and programme staff can do that.",
        ),
    }
)
