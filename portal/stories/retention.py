"""Audit entries about consent and publishing decisions are kept for the longer retention period
(``core/retention.py``), and the tables a withdrawal erases from are vacuumed afterwards on
PostgreSQL (``core/compaction.py``)."""

from __future__ import annotations

from portal.core.compaction import holds_erased_words
from portal.core.retention import keep_audit_longer

keep_audit_longer("story.", "storyteller.", "storytellers.")
holds_erased_words("stories", "story_tags", "storytellers", "storyteller_demographics")
