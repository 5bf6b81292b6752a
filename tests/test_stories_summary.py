"""The storyteller summary: exact counts and percentages for staff, and for the public small
cells hidden along with any figure from which a hidden one could be worked out."""

from __future__ import annotations

from typing import Any

import pytest

from portal.core.extensions import db
from portal.stories import summary
from portal.stories.consent import DemographicAnswers, record_demographics
from portal.stories.models import PREFER_NOT_TO_SAY, ConsentMethod
from portal.stories.summary import Cell, Section
from portal.stories.telling import create_storyteller


def _people(staff: Any) -> None:
    """20 storytellers; the last one gave no consent, so nothing about them is stored."""
    for i in range(20):
        person = create_storyteller(display_name=f"Person {i}", by=staff)
        if i == 19:
            continue
        record_demographics(
            person,
            DemographicAnswers(
                roles=[
                    role
                    for role, yes in (("lived_experience", i < 11), ("facilitator", i >= 6), ("professional", i < 19))
                    if yes
                ],
                sectors=["research"] if i < 10 else ["policy", "services"],
                gender="female" if i < 12 else ("male" if i < 18 else "non_binary"),
                lgbtqia="yes" if i < 2 else "no",
                disability="yes" if i < 4 else "no",
                ethnicity="White British" if i < 15 else ("Black British" if i < 17 else PREFER_NOT_TO_SAY),
                age=23 + i * 3 if i < 19 else None,
                lived_experience_areas=["addiction"] * (i < 5) + ["prison"] * (i == 5),
            ),
            method=ConsentMethod.WRITTEN,
            by=staff,
        )
    db.session.commit()


def _counts(figures: summary.Summary, key: str) -> dict[str, int | None]:
    return {cell.label: cell.count for cell in figures.section(key).cells}


def _percents(figures: summary.Summary, key: str) -> dict[str, int | None]:
    return {cell.label: cell.percent for cell in figures.section(key).cells}


def test_exact_counts_and_percentages(app: Any, users: dict[str, Any]) -> None:
    _people(users["staff"])
    exact = summary.compute()
    assert exact.total == 20
    assert _counts(exact, "roles") == {
        "Lived or living experience": 11,
        "Co-production facilitator": 13,
        "Involved as part of their job": 19,
        "Prefer not to say": 0,
    }
    assert _percents(exact, "roles")["Lived or living experience"] == 55  # several may apply: > 100% in all
    assert _percents(exact, "roles")["Co-production facilitator"] == 65
    assert _counts(exact, "sectors") == {"Research": 10, "Policy": 9, "Services": 9, "Prefer not to say": 0}
    assert _counts(exact, "gender") == {
        "Female": 12,
        "Male": 6,
        "Non-binary": 1,
        "In another way": 0,
        "Prefer not to say": 0,
        "Not recorded": 1,
    }
    assert sum(c for c in _counts(exact, "gender").values() if c is not None) == 20  # a partition adds up
    assert _counts(exact, "lgbtqia") == {"Yes": 2, "No": 17, "Prefer not to say": 0, "Not recorded": 1}
    assert _counts(exact, "ethnicity") == {
        "White British": 15,
        "Black British": 2,
        "Prefer not to say": 2,
        "Not recorded": 1,
    }
    assert _counts(exact, "lived_experience_areas")["Addiction"] == 5
    assert _counts(exact, "lived_experience_areas")["Prison"] == 1
    assert (exact.age_min, exact.age_max, exact.ages_recorded) == (23, 77, 19)


def test_percentages_round_halves_up_in_whole_numbers() -> None:
    assert summary.percent(1, 8) == 13  # 12.5
    assert summary.percent(2, 3) == 67
    assert summary.percent(1, 3) == 33
    assert summary.percent(0, 0) == 0


def test_public_figures_hide_small_cells_and_what_would_reveal_them(app: Any, users: dict[str, Any]) -> None:
    _people(users["staff"])
    public = summary.for_public(summary.compute(), threshold=5)
    assert public.total == 20 and public.hidden_any
    # Several may apply: 19 of 20 professionals would give away the one who is not.
    roles = _counts(public, "roles")
    assert roles["Involved as part of their job"] is None and roles["Lived or living experience"] == 11
    assert _percents(public, "roles")["Involved as part of their job"] is None
    # A partition: Non-binary 1 and Not recorded 1 are hidden; together (2) they are still under
    # the threshold, so the next smallest (Male 6) is hidden too. Female 12 stays.
    assert _counts(public, "gender") == {
        "Female": 12,
        "Male": None,
        "Non-binary": None,
        "In another way": 0,
        "Prefer not to say": 0,
        "Not recorded": None,
    }
    # Disability: Yes 4 and Not recorded 1 hidden (together 5): No 15 can stay.
    assert _counts(public, "disability") == {"Yes": None, "No": 15, "Prefer not to say": 0, "Not recorded": None}
    # Zero reveals no one and is shown; a count at the threshold is shown.
    assert _counts(public, "lived_experience_areas")["Addiction"] == 5
    assert _counts(public, "lived_experience_areas")["Prison"] is None
    assert _counts(public, "lived_experience_areas")["Care"] == 0
    # The youngest and oldest are single people: the range is widened to whole 5 years.
    assert (public.age_min, public.age_max) == (20, 80)


def test_no_hidden_cell_can_be_worked_out_from_the_total(app: Any, users: dict[str, Any]) -> None:
    _people(users["staff"])
    public = summary.for_public(summary.compute(), threshold=5)
    for section in public.sections:
        if section.several_may_apply:
            continue
        hidden = [cell for cell in section.cells if cell.hidden]
        assert len(hidden) != 1, section.key  # one hidden cell = total minus the rest


def test_one_small_cell_in_a_partition_hides_the_next_smallest() -> None:
    section = Section("x", "X", [Cell("a", 10), Cell("b", 3), Cell("c", 7), Cell("d", 0)], several_may_apply=False)
    shown = summary._suppress_section(section, total=20, threshold=5)
    assert [cell.count for cell in shown.cells] == [10, None, None, 0]


def test_too_few_storytellers_hides_everything(app: Any, users: dict[str, Any]) -> None:
    for i in range(3):
        record_demographics(
            create_storyteller(display_name=f"P{i}", by=users["staff"]),
            DemographicAnswers(gender="female", age=40 + i),
            method=ConsentMethod.WRITTEN,
            by=users["staff"],
        )
    db.session.commit()
    public = summary.for_public(summary.compute(), threshold=5)
    assert public.total is None and public.age_min is None and public.hidden_any
    assert all(cell.hidden for section in public.sections for cell in section.cells)


def test_public_page_says_what_it_hid_and_staff_see_exact(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    _people(users["staff"])
    visitor = as_role("anonymous").get("/stories/summary").get_data(as_text=True)
    assert "numbers smaller than 5 are hidden" in visitor
    assert "Hidden" in visitor and ">19<" not in visitor
    staff = as_role("staff")
    exact = staff.get("/stories/summary").get_data(as_text=True)
    assert ">19<" in exact and "Exact figures" in exact
    preview = staff.get("/stories/summary?view=public").get_data(as_text=True)
    assert ">19<" not in preview and "numbers smaller than 5 are hidden" in preview
    csv = staff.get("/stories/export/summary.csv").get_data(as_text=True)
    assert "Roles,Involved as part of their job,19,95,hidden,hidden" in csv
    assert as_role("member").get("/stories/export/summary.csv").status_code == 403


@pytest.mark.parametrize("threshold, hidden", [(2, False), (10, True)])
def test_the_threshold_is_a_setting(app_factory: Any, threshold: int, hidden: bool) -> None:
    app = app_factory(STATS_MIN_CELL=threshold)
    with app.app_context():
        from tests import factories

        staff = factories.user(role="staff")
        for i in range(12):
            record_demographics(
                create_storyteller(display_name=f"P{i}", by=staff),
                DemographicAnswers(disability="yes" if i < 3 else "no"),
                method=ConsentMethod.WRITTEN,
                by=staff,
            )
        db.session.commit()
        page = app.test_client().get("/stories/summary").get_data(as_text=True)
        assert (f"numbers smaller than {threshold} are hidden" in page) == hidden
        db.session.remove()
