"""What an htmx autosave answers (``grants/_autosave.html``): the time it saved, why it did not,
or the conflict with who saved first. Applications and progress reports both use it."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from portal.core.db import utcnow
from portal.core.formatting import LONDON
from portal.core.web import render


def reply(outcome: Any, form: Any, *, saved_version: int, opened_version: int | None, **wording: Any) -> Response:
    """``saved_version`` goes back to the form after a save; after a conflict, the version the
    form was opened at (the template keeps it unless told to move on)."""
    return render(
        "grants/_autosave.html",
        outcome=outcome,
        conflict=outcome.conflict,
        form=form,
        version=saved_version if outcome.conflict is None else opened_version,
        saved_at=utcnow().astimezone(LONDON).strftime("%H:%M"),
        **wording,
    )
