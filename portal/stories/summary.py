"""The storyteller summary (seed 000's infographic) computed from records.

``compute`` gives exact figures (staff). ``public`` gives the published ones, in three steps:

1. Answers in people's own words (ethnicity, a self-described gender) get a row of their own
   only when at least the threshold (``PORTAL_STATS_MIN_CELL``) of all storytellers gave that
   answer, counted over everyone and not per view, so every view has the same rows; the rest are
   counted as "Another ethnicity" / "Another gender identity" (``common_answers``).
2. A view (all projects, or one project) shows figures only when it holds at least three times
   the threshold of storytellers; a smaller one shows none, and a project that small is not
   offered as a filter (``projects_with_enough``).
3. Every count, the total included, is published by cell-key rounding (``core.disclosure``): a
   multiple of the threshold, the same for the same people whichever view reaches it, with
   multiples below the threshold shown as "fewer than". Percentages are worked out from the
   published counts (the published cell over the published total), so they tell nothing more.

Sections are either *partitions* (each person in exactly one cell: gender, LGBTQIA+,
disability, ethnicity, each with "prefer not to say" and "not recorded") whose cells add up to
the total, or *several-may-apply* lists (roles, sectors, lived-experience areas) whose cells need
not add up to anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import sqlalchemy as sa

from portal.core import disclosure, vocabulary
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
ANOTHER_ETHNICITY = "Another ethnicity"
ANOTHER_GENDER = "Another gender identity"
AGE_ROUNDING = 5
VIEW_MINIMUM = 3  # times the threshold: the storytellers a view needs before it shows any figure
RECORD_KIND = "storyteller"  # record keys are per storyteller
SELF_DESCRIBED = "self_described"
FIXED_GENDERS = [label for key, label in GENDERS.items() if key != SELF_DESCRIBED]


@dataclass
class Cell:
    label: str
    count: int | None  # None when hidden
    percent: int | None = None
    ids: tuple[int, ...] = field(default=(), repr=False, compare=False)  # who is in it (exact figures only)

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
    minimum: int = 0  # published figures: storytellers a view needs before it shows any
    everyone: tuple[int, ...] = field(default=(), repr=False)  # exact figures: the storytellers counted
    ages: tuple[tuple[int, int], ...] = field(default=(), repr=False)  # exact figures: (storyteller, age)

    def section(self, key: str) -> Section:
        return next(section for section in self.sections if section.key == key)


@dataclass(frozen=True)
class CommonAnswers:
    """Own-words answers given by at least the threshold of all storytellers: normalised -> label."""

    ethnicities: dict[str, str]
    genders: dict[str, str]


def percent(count: int, total: int) -> int:
    """Whole-number percentage, halves rounded up, in integers only."""
    return (200 * count + total) // (2 * total) if total else 0


def minimum_for(threshold: int) -> int:
    return VIEW_MINIMUM * max(threshold, 1)


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


def projects_with_enough(minimum: int) -> set[int]:
    """Projects whose storytellers (as ``population`` counts them) number at least ``minimum``."""
    gathered = sa.select(Storyteller.project_id.label("project_id"), Storyteller.id.label("storyteller_id")).where(
        Storyteller.project_id.is_not(None)
    )
    told = sa.select(Story.project_id, Story.storyteller_id).where(
        Story.project_id.is_not(None), Story.state != StoryState.WITHDRAWN
    )
    pairs = sa.union(gathered, told).subquery()  # union: each storyteller once per project
    query = sa.select(pairs.c.project_id).group_by(pairs.c.project_id).having(sa.func.count() >= minimum)
    return set(db.session.scalars(query))


def _tidy(value: str) -> str:
    return " ".join(value.split())


def _norm(value: str) -> str:
    return _tidy(value).casefold()


def _own_words_gender(value: str) -> bool:
    return value not in ("", PREFER_NOT_TO_SAY, SELF_DESCRIBED, *GENDERS) and bool(value.strip())


def _own_words_ethnicity(value: str) -> bool:
    return value != PREFER_NOT_TO_SAY and bool(value.strip())


def _common(answers: Iterable[str], threshold: int, reserved: set[str]) -> dict[str, str]:
    spellings: dict[str, Counter[str]] = {}
    for answer in answers:
        spellings.setdefault(_norm(answer), Counter())[_tidy(answer)] += 1
    common = {
        norm: min(counts, key=lambda spelling: (-counts[spelling], spelling))  # the commonest spelling
        for norm, counts in spellings.items()
        if counts.total() >= threshold and norm not in reserved
    }
    # In alphabetical order: an order by size would tell how the groups compare.
    return dict(sorted(common.items(), key=lambda item: item[1].casefold()))


def common_answers(threshold: int) -> CommonAnswers:
    """Which own-words answers may be row labels, decided over every storyteller (not per view)."""
    rows = db.session.execute(sa.select(Demographics.ethnicity, Demographics.gender)).all()
    reserved = {_norm(label) for label in (PREFER_LABEL, NOT_RECORDED, ANOTHER_ETHNICITY, ANOTHER_GENDER)}
    return CommonAnswers(
        ethnicities=_common(
            (row.ethnicity for row in rows if _own_words_ethnicity(row.ethnicity)), threshold, reserved
        ),
        genders=_common(
            (row.gender for row in rows if _own_words_gender(row.gender)),
            threshold,
            reserved | {_norm(label) for label in GENDERS.values()},
        ),
    )


def _multi(key: str, title: str, names: dict[str, str], answers: list[tuple[int, list[str]]], total: int) -> Section:
    cells = []
    for value, label in [*names.items(), (PREFER_NOT_TO_SAY, PREFER_LABEL)]:
        ids = tuple(person for person, answer in answers if value in (answer or []))
        cells.append(Cell(label, len(ids), percent(len(ids), total), ids))
    return Section(key, title, cells, several_may_apply=True)


def _partition(
    key: str, title: str, labels: list[str], answers: list[tuple[int, str]], everyone: tuple[int, ...]
) -> Section:
    members: dict[str, list[int]] = {label: [] for label in labels}
    for person, answer in answers:
        members.setdefault(answer, []).append(person)
    answered = {person for person, _ in answers}
    not_recorded = [person for person in everyone if person not in answered] + members.pop(NOT_RECORDED, [])
    prefer = members.pop(PREFER_LABEL, [])
    members[PREFER_LABEL] = prefer
    members[NOT_RECORDED] = not_recorded
    total = len(everyone)
    cells = [Cell(label, len(ids), percent(len(ids), total), tuple(ids)) for label, ids in members.items()]
    return Section(key, title, cells, several_may_apply=False)


def _yes_no(value: str) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    return YES_NO.get(value, NOT_RECORDED)


def _gender(value: str, grouping: CommonAnswers | None) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    if not value:
        return NOT_RECORDED
    if value in GENDERS and value != SELF_DESCRIBED:
        return GENDERS[value]
    if grouping is None:
        return GENDERS[SELF_DESCRIBED]  # staff figures: self-described words are never shown
    return grouping.genders.get(_norm(value), ANOTHER_GENDER)


def _ethnicity(value: str, seen: dict[str, str]) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    if not value.strip():
        return NOT_RECORDED
    return seen.setdefault(_norm(value), _tidy(value))


def _grouped_ethnicity(value: str, grouping: CommonAnswers) -> str:
    if value == PREFER_NOT_TO_SAY:
        return PREFER_LABEL
    if not value.strip():
        return NOT_RECORDED
    return grouping.ethnicities.get(_norm(value), ANOTHER_ETHNICITY)


def compute(project_id: int | None = None, *, grouping: CommonAnswers | None = None) -> Summary:
    """Exact figures: for staff, or (with ``grouping``) in the rows the public sees."""
    everyone = tuple(db.session.scalars(population(project_id)))
    total = len(everyone)
    rows = db.session.execute(
        sa.select(
            Demographics.storyteller_id,
            Demographics.roles,
            Demographics.sectors,
            Demographics.lived_experience_areas,
            Demographics.gender,
            Demographics.lgbtqia,
            Demographics.disability,
            Demographics.ethnicity,
            Demographics.age,
        ).where(Demographics.storyteller_id.in_(population(project_id)))
    ).all()
    if grouping is None:
        seen: dict[str, str] = {}
        ethnicities = [(row.storyteller_id, _ethnicity(row.ethnicity, seen)) for row in rows]
        counted = Counter(label for _, label in ethnicities)
        ethnic_labels = sorted(set(counted) - {PREFER_LABEL, NOT_RECORDED}, key=lambda label: (-counted[label], label))
        gender_labels = [*GENDERS.values()]
    else:
        ethnicities = [(row.storyteller_id, _grouped_ethnicity(row.ethnicity, grouping)) for row in rows]
        ethnic_labels = [*grouping.ethnicities.values(), ANOTHER_ETHNICITY]
        gender_labels = [*FIXED_GENDERS, *grouping.genders.values(), ANOTHER_GENDER]
    sections = [
        _multi("roles", "Roles", ROLES, [(row.storyteller_id, row.roles) for row in rows], total),
        _multi("sectors", "Sectors", SECTORS, [(row.storyteller_id, row.sectors) for row in rows], total),
        _partition(
            "gender",
            "Gender",
            gender_labels,
            [(row.storyteller_id, _gender(row.gender, grouping)) for row in rows],
            everyone,
        ),
        _partition(
            "lgbtqia", "LGBTQIA+", ["Yes", "No"], [(row.storyteller_id, _yes_no(row.lgbtqia)) for row in rows], everyone
        ),
        _partition(
            "disability",
            "Disability",
            ["Yes", "No"],
            [(row.storyteller_id, _yes_no(row.disability)) for row in rows],
            everyone,
        ),
        _partition("ethnicity", "Ethnicity", ethnic_labels, ethnicities, everyone),
        _multi(
            "lived_experience_areas",
            "Lived experience of",
            LIVED_EXPERIENCE_AREAS,
            [(row.storyteller_id, row.lived_experience_areas) for row in rows],
            total,
        ),
    ]
    ages = tuple((row.storyteller_id, row.age) for row in rows if row.age is not None)
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
        age_min=min(age for _, age in ages) if ages else None,
        age_max=max(age for _, age in ages) if ages else None,
        ages_recorded=len(ages),
        stories_published=stories,
        stories_by_theme=by_theme,
        everyone=everyone,
        ages=ages,
    )


def for_public(exact: Summary, threshold: int, secret: str) -> Summary:
    """The published version of exact figures (``compute``, best with the public ``grouping``)."""
    minimum = minimum_for(threshold)
    if len(exact.everyone) < minimum:
        sections = [
            Section(s.key, s.title, [Cell(c.label, None) for c in s.cells], s.several_may_apply) for s in exact.sections
        ]
        return replace(
            exact,
            total=None,
            sections=sections,
            age_min=None,
            age_max=None,
            threshold=threshold,
            minimum=minimum,
            hidden_any=True,
            everyone=(),
            ages=(),
        )
    keys = {person: disclosure.record_key(secret, RECORD_KIND, person) for person in exact.everyone}

    def published(ids: Iterable[int]) -> int | None:
        people = tuple(ids)
        return disclosure.publish(len(people), disclosure.cell_key(keys[person] for person in people), threshold)

    total = published(exact.everyone) or 0  # never hidden: the view holds at least 3 x threshold

    def cell(exact_cell: Cell) -> Cell:
        count = published(exact_cell.ids)
        return Cell(exact_cell.label, count, None if count is None else percent(count, total))

    sections = [Section(s.key, s.title, [cell(c) for c in s.cells], s.several_may_apply) for s in exact.sections]
    # The age range covers the 5-year bands whose published count is shown, so no single
    # person's age sets either end.
    bands: dict[int, list[int]] = {}
    for person, age in exact.ages:
        bands.setdefault(age // AGE_ROUNDING * AGE_ROUNDING, []).append(person)
    shown_bands = sorted(start for start, people in bands.items() if published(people) is not None)
    return replace(
        exact,
        total=total,
        sections=sections,
        age_min=shown_bands[0] if shown_bands else None,
        age_max=shown_bands[-1] + AGE_ROUNDING if shown_bands else None,
        threshold=threshold,
        minimum=minimum,
        hidden_any=True,
        age_rounded=True,
        everyone=(),
        ages=(),
    )


def public(project_id: int | None, threshold: int, secret: str) -> Summary:
    """The figures everyone but staff sees."""
    return for_public(compute(project_id, grouping=common_answers(threshold)), threshold, secret)
