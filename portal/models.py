"""Imports every model module, so metadata (and Alembic) sees every table."""

from portal.accounts.models import (  # noqa: F401
    EmailVerification,
    PasswordResetToken,
    RecoveryCode,
    User,
    UserSession,
)
from portal.calendar.models import CalendarFeed  # noqa: F401
from portal.core.audit import AuditEntry, AuditRewrite  # noqa: F401
from portal.core.compaction import PendingErasure  # noqa: F401
from portal.core.outbox import OutboxMention, OutboxMessage  # noqa: F401
from portal.core.rate_limits import RateLimitCounter  # noqa: F401
from portal.core.revisions import Revision  # noqa: F401
from portal.core.schedule import TaskRun, WorkerHeartbeat  # noqa: F401
from portal.core.search.models import SearchDocument  # noqa: F401
from portal.directory.models import (  # noqa: F401
    Block,
    DirectoryEntry,
    DirectoryInterest,
    DirectorySkill,
    MemberReport,
    PeerMessage,
)
from portal.gatherings.models import Gathering, Rsvp  # noqa: F401
from portal.learning.models import (  # noqa: F401
    Comment,
    Flag,
    LearningPost,
    ModerationSettings,
    PostTag,
    Validation,
)
from portal.notifications.models import Notification, NotificationSetting  # noqa: F401
from portal.notifications.reminders import SentReminder  # noqa: F401
from portal.remuneration.models import (  # noqa: F401
    ActivityType,
    Claim,
    ExpenseLine,
    PaymentBatch,
    PaymentPreference,
    PaymentRun,
    Rate,
)
from portal.stories.models import Demographics, Story, StoryTag, Storyteller  # noqa: F401
from portal.teams.models import Project, TeamMembership  # noqa: F401
