"""The lean reference page the benchmark compares every portal page with.

A separate, tiny Flask app (no portal blueprints, no sign-in, no CSRF, no security headers, no
rate limits, no audit or session lookups), served by the same gunicorn settings as the portal in
the same run. ``/`` is the 25 newest published public stories with their storytellers, read by
ONE joined query (``stories`` JOIN ``storytellers``, ``ORDER BY published_at DESC LIMIT 25``),
each title unsealed with its story's key (25 key files read and opened with the keystore, as
any page showing stories must do), rendered by Jinja in a page of about the same shape as a
list page. ``/plain`` is the same query and template without unsealing (it shows "Story 123"),
to tell the cost of the keys apart. It does not count, paginate, filter, show tags or projects,
or render the portal's base layout.

    gunicorn -c gunicorn.conf.py -w 2 'tests.benchmarks.reference_app:create()'

reads ``PORTAL_DATABASE_URL`` (a SQLAlchemy URL), ``PORTAL_STORY_KEY_PATH`` and
``PORTAL_SECRET_KEY``, the same variables the portal reads.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, render_template_string

from portal.core import keystore

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Stories</title></head>
<body>
<main>
<h1>Stories</h1>
<ul>
{% for story in stories %}
  <li><a href="/stories/{{ story.id }}">{{ story.title }}</a>
    by {{ story.author }}, <time datetime="{{ story.published_at.isoformat() }}">{{ story.published_at.strftime("%-d %B %Y") }}</time></li>
{% endfor %}
</ul>
</main>
</body>
</html>
"""

NEWEST = sa.text(
    "SELECT stories.id, stories.key_id, stories.title, stories.published_at, stories.anonymous,"
    " storytellers.display_name, storytellers.pseudonym"
    " FROM stories JOIN storytellers ON storytellers.id = stories.storyteller_id"
    " WHERE stories.state = 'published' AND stories.scope = 'public'"
    " ORDER BY stories.published_at DESC LIMIT 25"
)


def _published(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def create(database_url: str = "", key_path: str = "", secret_key: str = "") -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret_key or os.environ["PORTAL_SECRET_KEY"]
    app.config["STORY_KEY_PATH"] = key_path or os.environ["PORTAL_STORY_KEY_PATH"]
    engine = sa.create_engine(database_url or os.environ["PORTAL_DATABASE_URL"])

    def stories(unseal: bool) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            rows = connection.execute(NEWEST).all()
        return [
            {
                "id": row.id,
                "title": keystore.open_text(keystore.data_key(row.key_id), row.title, purpose="stories.title")
                if unseal and row.key_id
                else f"Story {row.id}",
                "author": row.pseudonym if row.anonymous else row.display_name,
                "published_at": _published(row.published_at),
            }
            for row in rows
        ]

    @app.get("/")
    def newest() -> str:
        return render_template_string(PAGE, stories=stories(unseal=True))

    @app.get("/plain")
    def plain() -> str:
        return render_template_string(PAGE, stories=stories(unseal=False))

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app
