"""The storyteller summary (seed 000's infographic) computed from records.

``compute`` gives exact figures (staff). ``for_public`` hides every count below the
threshold (``PORTAL_STATS_MIN_CELL``), every count whose complement is below it, and enough
other cells that no hidden count can be worked out by subtraction, and says that it did.

Sections are either *partitions* (each person in exactly one cell: gender, LGBTQIA+,
disability, ethnicity, each with "prefer not to say" and "not recorded") whose cells add up to
the total, or *several-may-apply* lists (roles, sectors, lived-experience areas) whose cells need
not add up to anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from portal.core import vocabulary
from portal.core.extensions import db
from portal.stories.models import (
    GENDERS,
    LIVED_EXPERIENCE_AREAS,
    PREFER_NOT_TO_SAY,
    ROLES,
    SECTORS,
    YES_NO,
    Demographics,
    Scope,
    Story,
    StoryState,
    StoryTag,
    Storyteller,
    TagVocabulary,
)

PREFER_LABEL = "Prefer not to say"
NOT_RECORDED = "Not recorded"
AGE_ROUNDING = 5


@dataclass
class Cell:
    label: str
    count: int | None  # None when hidden
    percent: int | None = None

    @property
    def hidden(self) -> bool:
        return self.count is None


@dataclass
class Section:
    key: str
    title: str
    cells: list[Cell]
    several_may_apply: bool


@dataclass
class Summary:
    total: int | None
    sections: list[Section]
    age_min: int | None
    age_max: int | None
    ages_recorded: int
    stories_published: int
    stories_by_theme: list[Cell] = field(default_factory=list)
    threshold: int = 0  # 0: exact figures
    hidden_any: bool = False
    age_rounded: bool = False

    def section(self, key: str) -> Section:
        return next(section for section in self.sections if section.key == key)


def percent(count: int, total: int) -> int:
    """Whole-number percentage, halves rounded up, in integers only."""
    return (200 * count + total) // (2 * total) if total else 0


def population(project_id: int | None = None) -> sa.Select[int]:
    """Storyteller ids in scope: everyone, or those gathered for a project or with a story in it."""
    query = sa.select(Storyteller.id)
    if project_id is not None:
        query = query.where(
            sa.or_(
                Storyteller.project_id == project_id,
                sa.exists().where(
                    Story.storyteller_id == Storyteller.id,
                    Story.project_id == project_id,
                    Story.state != StoryState.WITHDRAWN,
                ),
            )
        )
    return query


def _multi(key: str, title: str, names: dict[str, str], answers: list[list[str]], total: int) -> Section:
    cells = []
    for value, label in [*names.items(), (PREFER_NOT_TO_SAY, PREFER_LABEL)]:
        count = sum(1 for answer in answers if value in (answer or []))
        cells.append(Cell(label, count, percent(count, total)))
    return Section(key, title, cells, several_may_apply=True)


def _partition(key: str, title: str, labels: list[str], answers: list[str], total: int) -> Section:
    counts = dict.fromkeys(labels, 0)
    for answer in answers:
        counts[answer] = counts.get(answer, 0) + 1
    counts[NOT_RECORDED] = total - len(answers) + counts.pop(NOT_RECORDED, 0)
    ordered = [label for label in counts if label not in (PREFER_LABEL, NOT_RECORDED)]
    ordered += [PREFER_LABEL, NOT_RECORDED]
    cells = [Cell(label, counts.get(label, 0), percent(counts.get(label, 0), total)) for label in ordered]
    return Section(key, title, cells, several_may_apply=False)


def _yes_no(value: str) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    return YES_NO.get(value, NOT_RECORDED)


def _gender(value: str) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    if not value:
        return NOT_RECORDED
    return GENDERS.get(value, GENDERS["self_described"])  # self-described words are never shown


def _ethnicity(value: str, seen: dict[str, str]) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    if not value.strip():
        return NOT_RECORDED
    return seen.setdefault(" ".join(value.split()).casefold(), " ".join(value.split()))


def compute(project_id: int | None = None) -> Summary:
    """Exact figures for staff."""
    ids = population(project_id).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(ids)) or 0
    rows = db.session.execute(
        sa.select(
            Demographics.roles,
            Demographics.sectors,
            Demographics.lived_experience_areas,
            Demographics.gender,
            Demographics.lgbtqia,
            Demographics.disability,
            Demographics.ethnicity,
            Demographics.age,
        ).where(Demographics.storyteller_id.in_(sa.select(ids.c.id)))
    ).all()
    seen: dict[str, str] = {}
    ethnicities = [_ethnicity(row.ethnicity, seen) for row in rows]
    ethnic_labels = sorted(
        set(ethnicities) - {PREFER_LABEL, NOT_RECORDED}, key=lambda label: (-ethnicities.count(label), label)
    )
    sections = [
        _multi("roles", "Roles", ROLES, [row.roles for row in rows], total),
        _multi("sectors", "Sectors", SECTORS, [row.sectors for row in rows], total),
        _partition("gender", "Gender", [*GENDERS.values()], [_gender(row.gender) for row in rows], total),
        _partition("lgbtqia", "LGBTQIA+", ["Yes", "No"], [_yes_no(row.lgbtqia) for row in rows], total),
        _partition("disability", "Disability", ["Yes", "No"], [_yes_no(row.disability) for row in rows], total),
        _partition("ethnicity", "Ethnicity", ethnic_labels, ethnicities, total),
        _multi(
            "lived_experience_areas",
            "Lived experience of",
            LIVED_EXPERIENCE_AREAS,
            [row.lived_experience_areas for row in rows],
            total,
        ),
    ]
    ages = [row.age for row in rows if row.age is not None]
    published = sa.select(Story.id).where(
        Story.state == StoryState.PUBLISHED, Story.scope.in_((Scope.PUBLIC, Scope.NETWORK))
    )
    if project_id is not None:
        published = published.where(Story.project_id == project_id)
    published_ids = published.subquery()
    stories = db.session.scalar(sa.select(sa.func.count()).select_from(published_ids)) or 0
    theme_counts = dict(
        db.session.execute(
            sa.select(StoryTag.key, sa.func.count())
            .where(StoryTag.vocabulary == TagVocabulary.THEME, StoryTag.story_id.in_(sa.select(published_ids.c.id)))
            .group_by(StoryTag.key)
        ).all()
    )
    by_theme = [Cell(label, theme_counts.get(key, 0)) for key, label in vocabulary.THEMES.items()]
    return Summary(
        total=total,
        sections=sections,
        age_min=min(ages) if ages else None,
        age_max=max(ages) if ages else None,
        ages_recorded=len(ages),
        stories_published=stories,
        stories_by_theme=by_theme,
    )


def _small(count: int | None, threshold: int) -> bool:
    return count is not None and 0 < count < threshold


def _suppress_section(section: Section, total: int, threshold: int) -> Section:
    counts = [cell.count or 0 for cell in section.cells]
    if section.several_may_apply:
        # Each cell stands alone, but a count close to the total gives away the few outside it.
        hidden = {i for i, count in enumerate(counts) if _small(count, threshold) or _small(total - count, threshold)}
    else:
        hidden = {i for i, count in enumerate(counts) if _small(count, threshold)}
        # The cells add up to the total: hide more until the hidden ones cannot be worked out
        # (at least two hidden, together at least the threshold).
        while hidden and (len(hidden) == 1 or sum(counts[i] for i in hidden) < threshold):
            candidates = [i for i, count in enumerate(counts) if i not in hidden and count > 0]
            if not candidates:
                break
            hidden.add(min(candidates, key=lambda i: (counts[i], i)))
    cells = [Cell(cell.label, None) if i in hidden else replace(cell) for i, cell in enumerate(section.cells)]
    return Section(section.key, section.title, cells, section.several_may_apply)


def for_public(exact: Summary, threshold: int) -> Summary:
    """The published version: small cells, and cells that would reveal them, hidden."""
    total = exact.total or 0
    if total < threshold:
        sections = [
            Section(s.key, s.title, [Cell(c.label, None) for c in s.cells], s.several_may_apply) for s in exact.sections
        ]
        return replace(
            exact, total=None, sections=sections, age_min=None, age_max=None, threshold=threshold, hidden_any=True
        )
    sections = [_suppress_section(section, total, threshold) for section in exact.sections]
    hidden_any = any(cell.hidden for section in sections for cell in section.cells)
    age_min = age_max = None
    if exact.ages_recorded >= threshold and exact.age_min is not None and exact.age_max is not None:
        # The youngest and oldest are each one person: show the range widened to whole 5 years.
        age_min = exact.age_min // AGE_ROUNDING * AGE_ROUNDING
        age_max = -(-exact.age_max // AGE_ROUNDING) * AGE_ROUNDING
    elif exact.ages_recorded:
        hidden_any = True
    return replace(
        exact,
        sections=sections,
        age_min=age_min,
        age_max=age_max,
        threshold=threshold,
        hidden_any=hidden_any,
        age_rounded=True,
    )
