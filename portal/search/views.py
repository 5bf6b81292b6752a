"""The one search page, for everyone (results respect who is asking)."""

from __future__ import annotations

import click
from flask import current_app, request
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.core.extensions import db
from portal.core.permissions import public
from portal.core.search.service import KIND_LABELS, search
from portal.core.web import page_number, render
from portal.search import bp
from portal.search.rebuild import rebuild


@bp.route("/search", endpoint="search")
@public
def search_page() -> Response:
    text = request.args.get("q", "").strip()[:200]
    kind = request.args.get("kind", "")
    results = search(
        text,
        viewer=current_user,
        page=page_number(),
        per_page=current_app.config["PAGE_SIZE"],
        kind=kind if kind in KIND_LABELS else "",
    )
    return render(
        "search/search.html",
        block="results",
        q=text,
        kind=kind,
        results=results,
        kinds=KIND_LABELS,
        title=f"Search results for {text}" if text else "Search",
    )


@bp.cli.command("reindex-search")
def reindex_search_command() -> None:
    """Rebuild the search index from stories, learning posts and pilot pages."""
    counts = rebuild()
    db.session.commit()
    click.echo("Search index rebuilt: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ".")
