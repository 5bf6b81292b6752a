"""Imports every model module, so metadata (and Alembic) sees every table."""

from portal.accounts.models import PasswordResetToken, User  # noqa: F401
from portal.audit import AuditEntry  # noqa: F401
from portal.grants.models import Project, TeamMembership  # noqa: F401
from portal.outbox import OutboxMessage  # noqa: F401
from portal.remuneration.models import (  # noqa: F401
    ActivityType,
    Claim,
    ExpenseLine,
    PaymentBatch,
    PaymentPreference,
    Rate,
)
