"""The public storyteller summary resists differencing (issue 12).

The attack: take every pair of published views of the summary (all projects against each
project, one project against another, all projects minus the rest, a view before against the
same view after one storyteller is added, removed, or imported), subtract the published counts
of every cell with the same label, and see whether the result is the true count of a small group
that is meant to stay hidden (1 to threshold - 1). The same attack on the exact figures finds
many, which shows it can; on the published figures it finds none.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from itertools import permutations
from typing import Any

import sqlalchemy as sa

from portal.core import disclosure
from portal.core.extensions import db
from portal.stories import importer, summary
from portal.stories.consent import DemographicAnswers, record_demographics, withdraw_demographics
from portal.stories.models import PREFER_NOT_TO_SAY, ConsentMethod, Storyteller
from portal.stories.telling import create_storyteller
from portal.teams.models import Project
from tests import factories
from tests import stories_factories as make
from tests.helpers import queries_for

THRESHOLD = 5  # the default PORTAL_STATS_MIN_CELL
SECRET = "a-secret-for-the-record-keys"
Cells = dict[tuple[str, str], int | None]

ETHNICITIES = ["White British"] * 6 + ["Black British", "Asian British", "Mixed", PREFER_NOT_TO_SAY, ""]
GENDERS = ["female"] * 4 + ["male"] * 3 + ["non_binary", PREFER_NOT_TO_SAY, ""]


def _answers(rng: random.Random, **fixed: Any) -> DemographicAnswers:
    answers = DemographicAnswers(
        roles=[role for role in ("lived_experience", "facilitator", "professional") if rng.random() < 0.5],
        sectors=[sector for sector in ("research", "policy", "services") if rng.random() < 0.4],
        gender=rng.choice(GENDERS),
        lgbtqia=rng.choice(["yes", "no", "no", "no", PREFER_NOT_TO_SAY, ""]),
        disability=rng.choice(["yes", "no", "no", PREFER_NOT_TO_SAY, ""]),
        ethnicity=rng.choice(ETHNICITIES),
        age=rng.randint(18, 80) if rng.random() < 0.85 else None,
        lived_experience_areas=[
            area for area in ("addiction", "homelessness", "poverty", "prison", "care") if rng.random() < 0.2
        ],
    )
    for name, value in fixed.items():
        setattr(answers, name, value)
    return answers


def _programme(staff: Any) -> dict[str, int]:
    """Four projects (22, 18, 16 and 4 storytellers) and 7 storytellers gathered for none.

    Own words: "Agender" given by 5 people spread over the projects, "Genderfluid" by one,
    "Cornish" by one, "Romany Gypsy" by two. Adoption is lived experience only in project A.
    """
    rng = random.Random(12)
    projects = {name: factories.project(title=f"Project {name}").id for name in "ABCD"}
    sizes = {"A": 22, "B": 18, "C": 16, "D": 4, "": 7}
    own_words = iter(
        [("gender", "Agender")] * 5
        + [("gender", "Genderfluid"), ("ethnicity", "Cornish")]
        + [("ethnicity", "Romany Gypsy")] * 2
    )
    number = 0
    for name, size in sizes.items():
        for i in range(size):
            number += 1
            person = create_storyteller(
                display_name=f"Person {number}", by=staff, project_id=projects[name] if name else None
            )
            fixed: dict[str, Any] = {}
            if number % 7 == 3:
                field, words = next(own_words, ("", ""))
                if field:
                    fixed[field] = words
            answers = _answers(rng, **fixed)
            if name == "A" and i < 6:
                answers.lived_experience_areas = [*answers.lived_experience_areas, "adoption"]
            if number % 11 != 0:  # a few gave no consent: nothing stored, "not recorded"
                record_demographics(person, answers, by=staff, method=ConsentMethod.WRITTEN)
    db.session.commit()
    # One storyteller gathered for B also told a story in A: counted in both.
    teller = db.session.scalar(
        sa.select(Storyteller).where(Storyteller.project_id == projects["B"]).order_by(Storyteller.id)
    )
    assert teller is not None
    make.story(teller, by=staff, project_id=projects["A"])
    assert summary.projects_with_enough(summary.minimum_for(THRESHOLD)) == {projects[n] for n in "ABC"}
    return projects


def _cells(figures: summary.Summary) -> Cells:
    cells: Cells = {("storytellers", "total"): figures.total}
    for section in figures.sections:
        for cell in section.cells:
            cells[(section.key, cell.label)] = cell.count
    return cells


def _ids(figures: summary.Summary) -> dict[tuple[str, str], frozenset[int]]:
    ids = {("storytellers", "total"): frozenset(figures.everyone)}
    for section in figures.sections:
        for cell in section.cells:
            ids[(section.key, cell.label)] = frozenset(cell.ids)
    return ids


def _views(projects: dict[str, int]) -> dict[str, tuple[summary.Summary, summary.Summary]]:
    """Each public view: (exact figures in the public's rows, published figures)."""
    grouping = summary.common_answers(THRESHOLD)
    views = {}
    for name, project_id in [("all", None), *((n, projects[n]) for n in "ABC")]:
        exact = summary.compute(project_id, grouping=grouping)
        views[name] = (exact, summary.for_public(exact, THRESHOLD, SECRET))
    return views


def _differences(first: Cells, second: Cells) -> Iterator[tuple[tuple[str, str], int | None, int | None]]:
    for key in first.keys() & second.keys():
        yield key, first[key], second[key]


def _recovered(true_difference: int, first: int | None, second: int | None) -> bool:
    """Whether subtracting two published counts gives away a small hidden count exactly.

    Both ways an outsider reads a figure: as the number shown ("fewer than" read as 0), and as
    the range of true counts it could stand for (recovered when only one count is possible).
    """
    if not 0 < true_difference < THRESHOLD:
        return False
    if (first or 0) - (second or 0) == true_difference:
        return True
    low = max(0, min(disclosure.possible_counts(first, THRESHOLD)) - max(disclosure.possible_counts(second, THRESHOLD)))
    high = max(disclosure.possible_counts(first, THRESHOLD)) - min(disclosure.possible_counts(second, THRESHOLD))
    return low == high == true_difference


def _attack(pairs: list[tuple[Cells, Cells, Cells, Cells]]) -> int:
    """Cells recovered over pairs of (exact first, exact second, published first, published second)."""
    found = 0
    for exact_1, exact_2, shown_1, shown_2 in pairs:
        for key, first, second in _differences(shown_1, shown_2):
            true_1, true_2 = exact_1[key], exact_2[key]
            assert true_1 is not None and true_2 is not None
            found += _recovered(true_1 - true_2, first, second)
    return found


def _pairs(views: dict[str, tuple[summary.Summary, summary.Summary]]) -> list[tuple[Cells, Cells, Cells, Cells]]:
    cells = {name: (_cells(exact), _cells(shown)) for name, (exact, shown) in views.items()}
    return [(cells[a][0], cells[b][0], cells[a][1], cells[b][1]) for a, b in permutations(cells, 2)]


def _all_minus_rest(views: dict[str, tuple[summary.Summary, summary.Summary]], *, exact: bool) -> Cells:
    """All projects minus the three projects' figures: the people of D and of no project."""
    index = 0 if exact else 1
    whole = _cells(views["all"][index])
    parts = [_cells(views[name][index]) for name in "ABC"]
    return {key: (value or 0) - sum(part[key] or 0 for part in parts) for key, value in whole.items()}


def test_comparing_projects_with_all_projects_recovers_no_cell(app: Any, users: dict[str, Any]) -> None:
    views = _views(_programme(users["staff"]))
    exact_only = {name: (exact, exact) for name, (exact, _) in views.items()}
    # The attack works: on exact figures it finds small groups by subtraction.
    assert _attack(_pairs(exact_only)) > 10
    assert _attack(_pairs(views)) == 0
    # All projects minus the rest: a sum of multiples of the threshold, never a small count.
    true_rest = _all_minus_rest(views, exact=True)
    shown_rest = _all_minus_rest(views, exact=False)
    small = [key for key, value in true_rest.items() if value is not None and 0 < value < THRESHOLD]
    assert small, "the programme should have small groups outside the three projects"
    assert [key for key in small if shown_rest[key] == true_rest[key]] == []
    assert all(value is not None and value % THRESHOLD == 0 for value in shown_rest.values())


def _programme_ids() -> dict[str, int]:
    rows = db.session.execute(sa.select(Project.id, Project.title)).all()
    return {title.removeprefix("Project "): project_id for project_id, title in rows}


def test_the_same_people_get_the_same_figure_in_every_view(app: Any, users: dict[str, Any]) -> None:
    _programme(users["staff"])
    views = _views(_programme_ids())
    same = 0
    for (exact_1, shown_1), (exact_2, shown_2) in permutations(views.values(), 2):
        ids_1, ids_2 = _ids(exact_1), _ids(exact_2)
        cells_1, cells_2 = _cells(shown_1), _cells(shown_2)
        for key in ids_1.keys() & ids_2.keys():
            if ids_1[key] == ids_2[key] and ids_1[key]:
                same += 1
                assert cells_1[key] == cells_2[key], key
    assert same > 0
    # Adoption: only project A's storytellers, so the same six people in both views.
    all_projects, project_a = _cells(views["all"][1]), _cells(views["A"][1])
    assert all_projects[("lived_experience_areas", "Adoption")] == project_a[("lived_experience_areas", "Adoption")]
    # And asked again, the same answer (the rounding is not drawn afresh).
    again = _views(_programme_ids())
    assert {name: _cells(shown) for name, (_, shown) in again.items()} == {
        name: _cells(shown) for name, (_, shown) in views.items()
    }


def _before_after(staff: Any, change: Any) -> tuple[int, list[tuple[Cells, Cells, Cells, Cells]]]:
    before = _views(_programme_ids())
    change()
    db.session.commit()
    after = _views(_programme_ids())
    pairs = []
    changed = 0
    for name in before:
        exact_1, shown_1 = _cells(before[name][0]), _cells(before[name][1])
        exact_2, shown_2 = _cells(after[name][0]), _cells(after[name][1])
        pairs += [(exact_2, exact_1, shown_2, shown_1), (exact_1, exact_2, shown_1, shown_2)]
        changed += sum(exact_1.get(key) != exact_2.get(key) for key in exact_2)
    return changed, pairs


def test_before_and_after_one_storyteller_recovers_no_cell(app: Any, users: dict[str, Any]) -> None:
    staff = users["staff"]
    projects = _programme(staff)
    rng = random.Random(99)
    for round_number in range(4):  # four different people, so many cells change by one

        def add(name: str = f"New {round_number}") -> None:
            person = create_storyteller(display_name=name, by=staff, project_id=projects["A"])
            answers = _answers(rng, lived_experience_areas=["prison", "care"], ethnicity="Mixed")
            record_demographics(person, answers, by=staff, method=ConsentMethod.WRITTEN)

        changed, pairs = _before_after(staff, add)
        assert changed >= 5  # the total and several cells moved by exactly one person
        exact_pairs = [(e1, e2, e1, e2) for e1, e2, _, _ in pairs]
        assert _attack(exact_pairs) > 0  # exact figures give the new person away
        assert _attack(pairs) == 0


def test_removing_one_storyteller_recovers_no_cell(app: Any, users: dict[str, Any]) -> None:
    staff = users["staff"]
    _programme(staff)
    people = list(db.session.scalars(sa.select(Storyteller).order_by(Storyteller.id)))
    with_answers = [person for i, person in enumerate(people, start=1) if i % 11 != 0]

    def withdraw() -> None:  # consent withdrawn: the answers go, the person stays as "not recorded"
        withdraw_demographics(with_answers[4], by=staff)

    def delete() -> None:
        db.session.delete(with_answers[30])

    for change in (withdraw, delete):
        changed, pairs = _before_after(staff, change)
        assert changed >= 3
        assert _attack([(e1, e2, e1, e2) for e1, e2, _, _ in pairs]) > 0
        assert _attack(pairs) == 0


def test_an_import_of_one_person_recovers_no_cell(app: Any, users: dict[str, Any]) -> None:
    staff = users["staff"]
    _programme(staff)
    csv = (
        ",".join(importer.COLUMNS) + "\n"
        "Imported Person,,,lived experience,services,non_binary,yes,yes,Asian British,34,prison; poverty,yes,in writing\n"
    ).encode()

    def import_one() -> None:
        assert importer.commit(csv, by=staff, filename="one.csv") == 1

    changed, pairs = _before_after(staff, import_one)
    assert changed >= 8
    assert _attack([(e1, e2, e1, e2) for e1, e2, _, _ in pairs]) > 0
    assert _attack(pairs) == 0


def test_own_words_are_grouped_unless_enough_people_gave_them(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    projects = _programme(users["staff"])
    views = _views(projects)
    for _, shown in views.values():
        ethnicities = [cell.label for cell in shown.section("ethnicity").cells]
        genders = [cell.label for cell in shown.section("gender").cells]
        assert "Cornish" not in ethnicities and "Romany Gypsy" not in ethnicities
        assert "Another ethnicity" in ethnicities and "White British" in ethnicities
        assert "Genderfluid" not in genders and "Another gender identity" in genders
        assert "Agender" in genders  # 5 people in all, though fewer in any one project
    # Every view has the same rows, whichever project it shows.
    rows = {name: [(s.key, [c.label for c in s.cells]) for s in shown.sections] for name, (_, shown) in views.items()}
    assert all(labels == rows["all"] for labels in rows.values())
    visitor = as_role("anonymous")
    for query in ["", *(f"?project={projects[n]}" for n in "ABC")]:
        page = visitor.get(f"/stories/summary{query}").get_data(as_text=True)
        assert "Cornish" not in page and "Romany Gypsy" not in page and "Genderfluid" not in page
    csv = as_role("staff").get("/stories/export/summary.csv").get_data(as_text=True)
    assert "Ethnicity,Cornish,1,1,grouped," in csv  # staff: exact, and told it is grouped for the public
    exact_all = views["all"][0]
    assert {c.label: c.count for c in exact_all.section("gender").cells}["Agender"] == 5


def test_a_project_with_too_few_storytellers_has_no_view_of_its_own(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    projects = _programme(users["staff"])
    visitor = as_role("anonymous")
    page = visitor.get("/stories/summary").get_data(as_text=True)
    assert f'<option value="{projects["A"]}"' in page
    assert f'<option value="{projects["D"]}"' not in page
    assert "at least 15 storytellers" in page and "1 project has fewer" in page
    refused = visitor.get(f"/stories/summary?project={projects['D']}")
    assert refused.status_code == 200
    text = refused.get_data(as_text=True)
    assert "Figures for this project are not shown on their own" in text and 'aria-invalid="true"' in text
    all_projects = visitor.get("/stories/summary").get_data(as_text=True)
    assert _figures(text) == _figures(all_projects)  # nothing about D: the all-projects figures
    # Even asked directly, the summary of a small project shows nothing.
    small = summary.public(projects["D"], THRESHOLD, SECRET)
    assert small.total is None and all(cell.hidden for s in small.sections for cell in s.cells)
    # Staff still see D's exact figures.
    staff_page = as_role("staff").get(f"/stories/summary?project={projects['D']}").get_data(as_text=True)
    assert "Exact figures" in staff_page and "<dd>4</dd>" in staff_page
    preview = as_role("staff").get(f"/stories/summary?project={projects['D']}&view=public").get_data(as_text=True)
    assert "Figures for this project are not shown on their own" in preview


def _figures(page: str) -> str:
    return page[page.index('<div id="results">') :]


def test_suppression_alone_would_be_caught(app: Any, users: dict[str, Any], monkeypatch: Any) -> None:
    """What the attack catches: hiding small counts but showing the others exactly."""
    projects = _programme(users["staff"])

    def suppress_only(count: int, key: int, threshold: int) -> int | None:
        return count if count >= threshold else None

    monkeypatch.setattr(disclosure, "publish", suppress_only)
    assert _attack(_pairs(_views(projects))) > 0


def test_the_summary_makes_the_same_queries_for_many_storytellers(
    app: Any, as_role: Any, users: dict[str, Any]
) -> None:
    staff = users["staff"]
    rng = random.Random(5)
    project = factories.project(title="Counted").id

    def add(count: int) -> None:
        for i in range(count):
            person = create_storyteller(
                display_name=f"P{rng.random()}", by=staff, project_id=project if i % 2 else None
            )
            record_demographics(person, _answers(rng), by=staff, method=ConsentMethod.WRITTEN)
        db.session.commit()

    add(32)
    visitor, staff_client = as_role("anonymous"), as_role("staff")
    urls = ["/stories/summary", f"/stories/summary?project={project}", "/stories/export/summary.csv"]
    few = [queries_for(visitor, urls[0]), queries_for(visitor, urls[1]), queries_for(staff_client, urls[2])]
    add(60)
    assert [queries_for(visitor, urls[0]), queries_for(visitor, urls[1]), queries_for(staff_client, urls[2])] == few
