"""The core layer: settings, the database, the web helpers, security, audit, outbox, formatting.

Nothing here imports from the people layer, the domains or the pages (see ARCHITECTURE.md).
"""
