"""The Co-Production Portal. ``portal.app.create_app()`` builds the application.

This package file stays empty so that any module of the portal can be imported on its own.
"""
