"""The storyteller summary: exact counts and percentages for staff, and for the public counts
rounded by cell key with small ones shown as "fewer than" (tests/test_summary_disclosure.py
attacks them by comparing pages)."""

from __future__ import annotations

from typing import Any

import pytest

from portal.core import disclosure
from portal.core.extensions import db
from portal.stories import summary
from portal.stories.consent import DemographicAnswers, record_demographics
from portal.stories.models import PREFER_NOT_TO_SAY, ConsentMethod
from portal.stories.telling import create_storyteller
from tests import factories


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


SECRET = "test-record-key-secret"


def test_public_figures_are_rounded_and_never_show_a_small_count(app: Any, users: dict[str, Any]) -> None:
    # Changed on purpose (issue 12): cell-key rounding replaced suppression with complementary
    # suppression, whose hidden cells were recovered by comparing pages.
    _people(users["staff"])
    exact = summary.compute()
    public = summary.for_public(exact, threshold=5, secret=SECRET)
    assert public.total == 20 and public.hidden_any  # 20 is a multiple of 5: stays 20
    for section, shown in zip(exact.sections, public.sections, strict=True):
        for cell, shown_cell in zip(section.cells, shown.cells, strict=True):
            assert cell.count is not None
            if shown_cell.count is None:
                assert cell.count < 10, (section.key, cell.label)  # only counts that can round to 0
                assert shown_cell.percent is None
                continue
            assert shown_cell.count % 5 == 0 and shown_cell.count >= 5
            assert abs(shown_cell.count - cell.count) < 5
            assert shown_cell.count != cell.count or cell.count >= 5  # never an exact small count
            assert shown_cell.percent == summary.percent(shown_cell.count, 20)  # from the published figures
    # Zero and small look the same: both are "fewer than 5".
    assert _counts(public, "lived_experience_areas")["Care"] is None
    assert _counts(public, "gender")["Prefer not to say"] is None
    # Counts that are already multiples of 5 stay as they are.
    assert _counts(public, "lived_experience_areas")["Addiction"] == 5
    assert _counts(public, "disability")["No"] == 15
    # The age range covers whole 5-year bands with enough people, never one person's age.
    assert public.age_min is not None and public.age_max is not None
    assert public.age_min % 5 == 0 and public.age_max % 5 == 0
    assert 20 <= public.age_min and public.age_max <= 80


def test_partition_remainders_never_give_away_a_small_count(app: Any, users: dict[str, Any]) -> None:
    _people(users["staff"])
    exact = summary.compute()
    public = summary.for_public(exact, threshold=5, secret=SECRET)
    for section, shown in zip(exact.sections, public.sections, strict=True):
        hidden_true = sum(c.count or 0 for c, s in zip(section.cells, shown.cells, strict=True) if s.count is None)
        rest = (public.total or 0) - sum(s.count or 0 for s in shown.cells)
        if section.several_may_apply:
            for cell, shown_cell in zip(section.cells, shown.cells, strict=True):
                outside = 20 - (cell.count or 0)  # the people not in the cell
                if 0 < outside < 5:
                    assert (public.total or 0) - (shown_cell.count or 0) != outside, (section.key, cell.label)
        elif 0 < hidden_true < 5:
            assert rest != hidden_true, section.key  # total minus the rest is a multiple of 5


def test_the_rounding_is_fixed_per_group_and_zero_on_average() -> None:
    table = disclosure.perturbation_table(5)
    assert len(table) == 5 and all(len(row) == disclosure.KEY_SPACE for row in table)
    for remainder, row in enumerate(table):
        assert all((remainder + adjustment) % 5 == 0 for adjustment in row)
        assert abs(sum(row)) <= 5  # zero on average, to within the key space's steps
    assert set(table[0]) == {0}
    assert disclosure.publish(0, 17, 5) is None and disclosure.publish(10, 200, 5) == 10
    assert {disclosure.publish(3, key, 5) for key in range(256)} == {None, 5}
    assert {disclosure.publish(12, key, 5) for key in range(256)} == {10, 15}
    assert disclosure.record_key("a", "storyteller", 7) == disclosure.record_key("a", "storyteller", 7)
    keys_a = [disclosure.record_key("a", "storyteller", i) for i in range(50)]
    assert keys_a != [disclosure.record_key("b", "storyteller", i) for i in range(50)]  # keyed by the secret


def test_too_few_storytellers_hides_everything(app: Any, users: dict[str, Any]) -> None:
    for i in range(14):  # fewer than 3 x 5
        record_demographics(
            create_storyteller(display_name=f"P{i}", by=users["staff"]),
            DemographicAnswers(gender="female", age=40 + i),
            method=ConsentMethod.WRITTEN,
            by=users["staff"],
        )
    db.session.commit()
    public = summary.for_public(summary.compute(), threshold=5, secret=SECRET)
    assert public.total is None and public.age_min is None and public.hidden_any and public.minimum == 15
    assert all(cell.hidden for section in public.sections for cell in section.cells)


def test_public_page_says_what_it_did_and_staff_see_exact(app: Any, as_role: Any, users: dict[str, Any]) -> None:
    _people(users["staff"])
    visitor = as_role("anonymous").get("/stories/summary").get_data(as_text=True)
    assert "rounded to a multiple of 5, up or down at random" in visitor
    assert "cannot give away a hidden number" in visitor and "Another ethnicity" in visitor
    assert "Fewer than 5" in visitor and ">19<" not in visitor
    staff = as_role("staff")
    exact = staff.get("/stories/summary").get_data(as_text=True)
    assert ">19<" in exact and "Exact figures" in exact
    preview = staff.get("/stories/summary?view=public").get_data(as_text=True)
    assert ">19<" not in preview and "rounded to a multiple of 5" in preview
    csv = staff.get("/stories/export/summary.csv").get_data(as_text=True)
    assert "Roles,Involved as part of their job,19,95,20,100" in csv or (
        "Roles,Involved as part of their job,19,95,15,75" in csv
    )
    assert "Ethnicity,Black British,2,10,grouped," in csv  # 2 people: counted in Another ethnicity
    assert "Ethnicity,Another ethnicity,2,10," in csv
    assert as_role("member").get("/stories/export/summary.csv").status_code == 403


@pytest.mark.parametrize("threshold, shown", [(2, True), (10, False)])
def test_the_threshold_is_a_setting(app_factory: Any, threshold: int, shown: bool) -> None:
    app = app_factory(STATS_MIN_CELL=threshold)
    with app.app_context():
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
        assert f"rounded to a multiple of {threshold}" in page
        assert (f"fewer than {3 * threshold} storytellers here" in page) == (not shown)
        db.session.remove()
