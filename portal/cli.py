"""Command-line tasks: ``flask --app portal.app create-user | seed-demo | send-outbox | send-digest``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask_migrate import upgrade

from portal.accounts import services
from portal.accounts.models import Role
from portal.core.extensions import db
from portal.core.outbox import deliver_pending
from portal.demo import seed
from portal.digest import send_digest


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(seed_demo)
    app.cli.add_command(send_outbox)
    app.cli.add_command(send_digest_command)


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.MEMBER.value)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="PORTAL_NEW_USER_PASSWORD",
    help="Asked for when not given (or set PORTAL_NEW_USER_PASSWORD).",
)
def create_user(email: str, name: str, role: str, password: str) -> None:
    """Create an account with a role."""
    try:
        user = services.create_user(email=email, name=name, password=password, role=Role(role))
    except services.AccountError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.value}).")


@click.command("seed-demo")
def seed_demo() -> None:
    """Bring the database up to date and add the demo data (safe to run again)."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("seed-demo is refused when PORTAL_ENV=production.")
    upgrade()
    created = seed()
    db.session.commit()
    click.echo(f"Demo data ready ({created} new records). Every demo password: demo-password-2026")


@click.command("send-outbox")
@click.option("--limit", default=200, show_default=True, help="Most messages to send in one run.")
def send_outbox(limit: int) -> None:
    """Deliver waiting emails (SMTP when PORTAL_SMTP_HOST is set, otherwise to the log)."""
    sent, failed = deliver_pending(current_app.config, limit=limit)
    click.echo(f"Sent {sent}, failed {failed}.")
    if failed:
        raise SystemExit(1)


@click.command("send-digest")
def send_digest_command() -> None:
    """Queue the weekly digest (what is due for each person; new posts, stories and gatherings)."""
    queued = send_digest()
    db.session.commit()
    click.echo(f"Queued the digest for {queued} people. Run send-outbox to deliver it.")
