"""A deleted or hidden post's words leave the database files too: its tables are vacuumed on
PostgreSQL after an erasure (``core/compaction.py``), with the search index."""

from __future__ import annotations

from portal.core.compaction import holds_erased_words

holds_erased_words("learning_posts", "learning_comments")
