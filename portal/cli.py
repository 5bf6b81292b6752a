"""Command-line tasks: ``flask --app portal.app create-user | seed-demo | send-outbox | send-digest |
jobs | worker | serve | rotate-story-keys | backup | restore``."""

from __future__ import annotations

import signal
from pathlib import Path

import click
from flask import Flask, current_app
from flask_migrate import upgrade
from huey.consumer import Consumer
from werkzeug.serving import run_simple

from portal.accounts import services
from portal.accounts.models import Role
from portal.core import backup as backups
from portal.core import keystore, schedule
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.formatting import local_datetime
from portal.core.outbox import deliver_pending
from portal.core.tasks import queue
from portal.demo import seed
from portal.digest import send_digest


def register_commands(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(seed_demo)
    app.cli.add_command(send_outbox)
    app.cli.add_command(send_digest_command)
    app.cli.add_command(jobs)
    app.cli.add_command(worker)
    app.cli.add_command(serve)
    app.cli.add_command(rotate_story_keys)
    app.cli.add_command(backup)
    app.cli.add_command(restore)


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
        user = services.create_user(email=email, name=name, password=password, role=Role(role), verified=True)
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


@click.group("jobs", invoke_without_command=True)
@click.pass_context
def jobs(context: click.Context) -> None:
    """List the scheduled jobs, their last run and its result (``jobs run NAME`` runs one now)."""
    if context.invoked_subcommand is not None:
        return
    healthy, seen = schedule.worker_health(utcnow(), current_app.config["WORKER_STALE_MINUTES"])
    click.echo(f"Worker: {'running' if healthy else 'not running'}, last seen {local_datetime(seen) or 'never'}")
    for status in schedule.statuses():
        last = status.last
        when = local_datetime(last.finished_at or last.created_at) if last else "never"
        state = last.state.label if last else "-"
        result = (last.error or last.result) if last else ""
        click.echo(f"{status.job.name:<22} {status.job.schedule:<28} {when:<24} {state:<20} {result}")


@jobs.command("run")
@click.argument("name", type=click.Choice(sorted(schedule.JOBS)))
def run_job_now(name: str) -> None:
    """Run one job here and now, outside its schedule."""
    run = schedule.run_now(name, utcnow())
    db.session.commit()
    schedule.run_job.call_local(run.id)
    db.session.expire_all()
    finished = db.session.get(schedule.TaskRun, run.id)
    assert finished is not None
    click.echo(f"{name}: {finished.state.label}. {finished.error or finished.result}")
    if finished.state != schedule.RunState.SUCCEEDED:
        raise SystemExit(1)


def _consumer(workers: int, scheduler: bool) -> Consumer:
    return queue.create_consumer(workers=workers, worker_type="thread", periodic=scheduler)


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Threads running tasks in this process.")
@click.option("--no-scheduler", is_flag=True, help="Run tasks only; leave queuing scheduled jobs to other workers.")
def worker(workers: int, no_scheduler: bool) -> None:
    """Run queued tasks and the schedule (production: one or more of these beside gunicorn)."""
    _consumer(workers, not no_scheduler).run()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Development: the web server and a worker (two threads and the schedule) in one process."""
    consumer = _consumer(2, True)
    consumer.start()
    # The consumer's own signal handlers only set a flag for Consumer.run(), which this command
    # does not call: Ctrl+C or SIGTERM stop the web server here, and then the worker, letting it
    # finish the task in hand (also where a parent process left SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    click.echo(f"Worker started (queue: {current_app.config['TASK_QUEUE_URL'] or 'instance/tasks.sqlite3'}).")
    # Not app.run(): inside a flask command it returns at once (Flask guards against a second server).
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        run_simple(host, port, app, use_reloader=False, use_debugger=app.debug, threaded=True)
    finally:
        consumer.stop(graceful=True)


@click.command("rotate-story-keys")
@click.option(
    "--old-secret",
    envvar="PORTAL_OLD_STORY_MASTER_KEY",
    required=True,
    help="The master secret the key files are wrapped with now (or set PORTAL_OLD_STORY_MASTER_KEY).",
)
def rotate_story_keys(old_secret: str) -> None:
    """Re-wrap every story key file under the current STORY_MASTER_KEY (or SECRET_KEY).

    Set the new secret in the configuration first, then run this with the old one. The database
    is not touched; running it again after an interruption finishes the job."""
    done = keystore.rotate(old_secret)
    click.echo(f"Re-wrapped {done.rewrapped} keys; {done.already_current} already used the current key.")
    if done.unopened:
        raise click.ClickException(
            f"{len(done.unopened)} key files open with neither secret and were left as they are: "
            + ", ".join(done.unopened[:10])
        )


@click.command("backup")
@click.option(
    "--to",
    "to",
    type=click.Path(path_type=Path),
    default=None,
    help="The archive to write (a .tar.gz), or a folder for it. Default: instance/backups/portal-<time>.tar.gz.",
)
@click.option(
    "--keep",
    type=int,
    default=0,
    show_default=True,
    help="Then delete all but the newest KEEP portal-<time>.tar.gz archives in that folder (0: delete none).",
)
def backup(to: Path | None, keep: int) -> None:
    """Write one consistent archive: the database, the uploads and the story key files (still
    wrapped: keep STORY_MASTER_KEY / SECRET_KEY apart from it). Safe while the portal runs."""
    try:
        written = backups.backup(to, keep=keep)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up {written.rows} rows and {written.files} files (migration {written.head}) to {written.path}")
    if written.removed:
        click.echo(f"Deleted {len(written.removed)} older archives: " + ", ".join(p.name for p in written.removed))


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Restore even though this instance has data or files (they are replaced).")
def restore(path: Path, force: bool) -> None:
    """Bring an archive made by ``backup`` back into this (empty) instance. Stop the portal first."""
    try:
        restored = backups.restore(path, force=force)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored {restored.rows} rows and {restored.files} files (migration {restored.head}) from {path}")
    head = backups.code_head()
    if restored.head != head:
        click.echo(
            f"This release's migrations end at {head}: run `flask --app portal.app db upgrade` before starting the portal."
        )
