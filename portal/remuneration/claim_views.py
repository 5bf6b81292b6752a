"""Routes: see portal/remuneration/__init__.py."""

from portal.remuneration import bp  # noqa: F401
