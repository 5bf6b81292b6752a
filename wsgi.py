"""Entry point for gunicorn: ``gunicorn wsgi:app``."""

from portal import create_app

app = create_app()
