"""Audit entries about funding decisions are kept for the longer retention period
(``core/retention.py``): applications, reviews, panels, rounds and projects."""

from __future__ import annotations

from portal.core.retention import keep_audit_longer

keep_audit_longer("application.", "review.", "panel.", "phase.", "project.", "project_expense.")
