"""The parts every versioned form shares: the version field, word-by-word comparison."""

from __future__ import annotations

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from portal.core.edits import shown
from portal.core.form_fields import VersionField
from portal.core.revisions import Piece, compare, word_diff


class _Form(FlaskForm):
    version = VersionField()


def _version(app, sent: dict[str, str]) -> int | None:  # type: ignore[no-untyped-def]
    with app.test_request_context(method="POST"):
        form = _Form(formdata=MultiDict(sent), meta={"csrf": False})
        return form.version.data


def test_the_version_field_reads_only_plain_numbers(app) -> None:  # type: ignore[no-untyped-def]
    assert _version(app, {"version": "7"}) == 7
    # Anything else never matches a record's version, so a tampered form cannot skip the check.
    for hostile in ("", "abc", "-1", "٣", "１", "99999999999999999999", "7\x00"):
        assert _version(app, {"version": hostile}) == 0, hostile
    assert _version(app, {}) is None


def test_word_diff_keeps_every_word_once_in_order() -> None:
    pieces = word_diff("We meet on Tuesdays at the library", "We meet on Thursdays at the community library")
    assert "".join(p.text for p in pieces if p.kind != "added") == "We meet on Tuesdays at the library"
    assert "".join(p.text for p in pieces if p.kind != "removed") == "We meet on Thursdays at the community library"
    assert Piece("removed", "Tuesdays") in pieces
    assert Piece("added", "Thursdays") in pieces
    assert any(p.kind == "added" and "community" in p.text for p in pieces)


def test_compare_marks_unchanged_fields() -> None:
    labels = {"title": "Title", "summary": "Summary"}
    changes = compare(labels, {"title": "A", "summary": "same"}, {"title": "B", "summary": "same"})
    assert [(c.label, c.changed) for c in changes] == [("Title", True), ("Summary", False)]


def test_values_are_shown_as_people_read_them() -> None:
    assert shown(None) == ""
    assert shown(["co-design", "peer support"]) == "co-design, peer support"
