"""Rules for administration: people, roles and the audit log."""

from __future__ import annotations

from portal.core.permissions import is_admin, is_staff, register

ADMINS_ONLY = "Only an admin can do that."
NOT_YOURSELF = "Only an admin can do that, and not to their own account."

register(
    {
        "users.manage": (lambda user, obj: is_admin(user), ADMINS_ONLY),
        "users.change_role": (lambda user, obj: is_admin(user) and obj is not None and obj.id != user.id, NOT_YOURSELF),
        "users.deactivate": (lambda user, obj: is_admin(user) and obj is not None and obj.id != user.id, NOT_YOURSELF),
        "users.reset_two_factor": (
            lambda user, obj: is_admin(user) and obj is not None and obj.id != user.id,
            NOT_YOURSELF,
        ),
        "users.erase": (
            lambda user, obj: is_admin(user) and obj is not None and obj.id != user.id and obj.erased_at is None,
            NOT_YOURSELF,
        ),
        "audit.read": (lambda user, obj: is_admin(user), ADMINS_ONLY),
        "jobs.read": (lambda user, obj: is_staff(user), "Only programme staff can see the scheduled jobs."),
        "jobs.run": (lambda user, obj: is_staff(user), "Only programme staff can run a scheduled job."),
        "emails.read_failed": (lambda user, obj: is_staff(user), "Only programme staff can see emails that failed."),
        "emails.send_again": (lambda user, obj: is_staff(user), "Only programme staff can send an email again."),
    }
)
