"""The shape of the code: every module imports on its own, and domain errors map to statuses.

The layers themselves are checked by ``lint-imports`` (contracts in pyproject.toml), which CI runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flask import Flask

from portal.core.errors import NotAllowed, RuleBroken
from portal.core.extensions import db
from tests import factories

ROOT = Path(__file__).resolve().parent.parent

# Loads the third-party libraries once, then forks a child per portal module: each child starts
# with no portal module loaded, exactly as a fresh interpreter would, at a fraction of the cost.
IMPORT_EACH = r"""
import importlib, os, sys, traceback
import flask, flask_login, flask_migrate, flask_sqlalchemy, flask_wtf, sqlalchemy, wtforms, jinja2  # noqa
assert not [name for name in sys.modules if name == "portal" or name.startswith("portal.")]
failed = []
for name in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            os._exit(1)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(f"{name}:\n{message}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def portal_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "portal").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "migrations" in parts:
            continue  # Alembic loads these itself, inside a running app
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    names = portal_modules()
    assert len(names) > 100
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *names], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_domain_package_file_imports_its_views() -> None:
    """Each package's ``__init__.py`` defines its blueprint and nothing else."""
    for init in (ROOT / "portal").glob("*/__init__.py"):
        text = init.read_text()
        assert "import views" not in text and "_views" not in text, init


def _app_with_failing_routes(app_factory) -> Flask:  # type: ignore[no-untyped-def]
    app: Flask = app_factory()

    def refuses() -> str:
        raise NotAllowed("Only the project's lead can do that.")

    def breaks_a_rule() -> str:
        db.session.execute(db.text("UPDATE users SET name = 'changed' WHERE 1 = 1"))
        raise RuleBroken("amount", "The amount is more than the project has left.")

    app.add_url_rule("/test/not-allowed", "test_not_allowed", refuses)
    app.add_url_rule("/test/rule-broken", "test_rule_broken", breaks_a_rule, methods=["POST"])
    return app


def test_not_allowed_answers_403_with_its_reason(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = _app_with_failing_routes(app_factory)
    response = app.test_client().get("/test/not-allowed")
    assert response.status_code == 403
    assert "Only the project&#39;s lead can do that." in response.get_data(as_text=True)


def test_an_uncaught_rule_broken_answers_422_and_keeps_nothing(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = _app_with_failing_routes(app_factory)
    with app.app_context():
        person = factories.user(name="Unchanged")
        db.session.commit()
        person_id = person.id
    response = app.test_client().post("/test/rule-broken")
    assert response.status_code == 422
    assert "The amount is more than the project has left." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(db.text("SELECT name FROM users WHERE id = :id"), {"id": person_id}).scalar() == (
            "Unchanged"
        )


def test_htmx_errors_replace_the_main_content(app_factory) -> None:  # type: ignore[no-untyped-def]
    app = _app_with_failing_routes(app_factory)
    response = app.test_client().get("/test/not-allowed", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#main"
