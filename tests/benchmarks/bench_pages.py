"""Benchmark: the portal's key pages at a national programme's size, served by gunicorn.

    .venv/bin/python -m tests.benchmarks.bench_pages                 # SQLite, full size (slow to fill)
    .venv/bin/python -m tests.benchmarks.bench_pages --scale 0.1 --keep --folder /tmp/bench
    .venv/bin/python -m tests.benchmarks.bench_pages --reuse /tmp/bench      # measure again, no fill
    PORTAL_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python -m ...
    .venv/bin/python -m tests.benchmarks.bench_pages --reuse /tmp/bench --soak --soak-minutes 30

Fills a database (tests/benchmarks/fill.py; SQLite in the folder, or PostgreSQL in its own
schema), serves it with gunicorn (2 workers, gunicorn.conf.py) next to the lean reference app
(tests/benchmarks/reference_app.py) under the same settings, signs each role in once through the
real sign-in form, loads every key page with wrk (8 connections) and prints requests/s, the ratio
to the reference, p50/p95/p99, queries per page and page size; then times each CSV export
streamed through gunicorn with the worker's memory before, at its peak and after; then EXPLAINs
the members' library and feed queries. ``--soak`` runs mixed reads and writes at a steady rate
instead and reports errors and worker memory per minute. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from portal.core.config import PROJECT_ROOT
from portal.core.extensions import db
from tests.benchmarks import explain, fill

HERE = Path(__file__).resolve().parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CODE_PAGE = "/account/sign-in/code"
SCHEMA = "bench"


# --- the pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    who: str  # "visitor" or a role of FillReport.who
    path: str  # may name {batch}, {post}, {phase}


PAGES = [
    Page("story library", "visitor", "/stories"),
    Page("story library (member)", "member", "/stories"),
    Page("library word search", "visitor", f"/stories?q={fill.COMMON_WORD}"),
    Page("library word search (member)", "member", f"/stories?q={fill.COMMON_WORD}"),
    Page("learning feed (member)", "member", "/learning/"),
    Page("site search", "visitor", f"/search?q={fill.COMMON_WORD}"),
    Page("site search (member)", "member", f"/search?q={fill.COMMON_WORD}"),
    Page("claims queue", "staff", "/claims/queue"),
    Page("staff dashboard", "staff", "/dashboard"),
    Page("staff payments dashboard", "staff", "/staff/payments"),
    Page("finance dashboard", "finance", "/finance"),
    Page("member dashboard", "member", "/dashboard"),
    Page("audit log", "admin", "/admin/audit"),
]

EXPORTS = [
    Page("stories CSV", "staff", "/stories/export/stories.csv"),
    Page("batch CSV", "finance", "/finance/batches/{batch}/csv"),
    Page("all claims CSV", "finance", "{claims_csv}"),  # found in the URL map (see claims_export_path)
    Page("applications CSV", "staff", "/staff/exports/applications.csv"),
    Page("projects CSV", "staff", "/staff/exports/projects.csv"),
]

# The pages EXPLAIN looks at: the slowest query touching ``table`` on each.
EXPLAINED = [
    (Page("members' library", "member", "/stories"), "stories"),
    (Page("members' feed", "member", "/learning/"), "learning_posts"),
]


def claims_export_path(app: Flask) -> str:
    """Finance's "every claim" download (``/finance/exports/claims``, every state but drafts)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "remuneration.claims_export":
            return rule.rule + "?download=1"
    return ""


# --- signing in ----------------------------------------------------------------------------------


def forget_last_code(email: str) -> None:
    """Let the bench account use this 30 seconds' code again (the portal refuses a code twice, so
    signing the same bench account in twice within 30 s would fail; only bench accounts)."""
    from portal.accounts.models import User

    db.session.execute(sa.update(User).where(User.email == email).values(totp_last_step=None))
    db.session.commit()


def _token(page: str) -> str:
    found = CSRF.search(page)
    return found.group(1) if found else ""


def sign_in_test_client(app: Flask, email: str) -> FlaskClient:
    """A test client signed in through the sign-in form (and the code page for staff roles)."""
    with app.app_context():
        forget_last_code(email)
    client = app.test_client()
    token = _token(client.get("/account/sign-in").get_data(as_text=True))
    response = client.post(
        "/account/sign-in", data={"email": email, "password": fill.BENCH_PASSWORD, "csrf_token": token}
    )
    if response.headers.get("Location", "").endswith(CODE_PAGE):
        token = _token(client.get(CODE_PAGE).get_data(as_text=True))
        code = pyotp.TOTP(fill.BENCH_TOTP_SECRET).now()
        response = client.post(CODE_PAGE, data={"code": code, "csrf_token": token})
    if response.status_code not in (302, 303):
        raise RuntimeError(f"Could not sign {email} in (status {response.status_code}).")
    return client


class HttpSession:
    """A tiny cookie-keeping HTTP client for the gunicorn under test (standard library only)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        stream: Callable[[bytes], None] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0]
                    key, _, cookie = pair.partition("=")
                    if cookie and "expires=Thu, 01 Jan 1970" not in value:
                        self.cookies[key.strip()] = cookie
                    else:
                        self.cookies.pop(key.strip(), None)
            if stream is None:
                data = response.read()
            else:
                data = b""
                while chunk := response.read(65536):
                    stream(chunk)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def token(self, path: str) -> str:
        return _token(self.request("GET", path)[2].decode())


def sign_in_http(port: int, email: str) -> HttpSession:
    session = HttpSession(port)
    token = session.token("/account/sign-in")
    status, headers, _ = session.request(
        "POST", "/account/sign-in", {"email": email, "password": fill.BENCH_PASSWORD, "csrf_token": token}
    )
    if headers.get("location", "").endswith(CODE_PAGE):
        token = session.token(CODE_PAGE)
        status, headers, _ = session.request(
            "POST", CODE_PAGE, {"code": pyotp.TOTP(fill.BENCH_TOTP_SECRET).now(), "csrf_token": token}
        )
    if status not in (302, 303):
        raise RuntimeError(f"Could not sign {email} in through gunicorn (status {status}).")
    return session


# --- gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(app_spec: str, env: dict[str, str], workers: int, log: Path, timeout: int = 30) -> Server:
    """gunicorn with the project's gunicorn.conf.py (run from the project folder), ``workers``
    sync workers, gunicorn's default 30 s worker timeout and no access log (as in production);
    waits until it answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "gunicorn.conf.py"),
        "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", str(timeout), app_spec,
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    server = Server(process, port)
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at start-up: see {log}")
        with contextlib.suppress(OSError):
            status, _, _ = HttpSession(port).request("GET", "/healthz")
            if status < 600 and len(server.workers()) == workers:
                return server
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer: see {log}")


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


# --- wrk -----------------------------------------------------------------------------------------


@dataclass
class Load:
    requests_per_second: float
    p50: float
    p95: float
    p99: float
    errors: int
    bytes_per_request: float


def wrk(url: str, cookie: str, seconds: int, connections: int) -> Load:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s", "-s", str(HERE / "latency.lua")]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    found = json.loads(line[len("BENCH ") :])
    requests = max(1, found["requests"])
    errors = sum(found[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Load(
        requests_per_second=found["requests"] / max(found["seconds"], 1e-9),
        p50=found["p50"],
        p95=found["p95"],
        p99=found["p99"],
        errors=errors,
        bytes_per_request=found["bytes"] / requests,
    )


# --- queries per page (one test-client request) --------------------------------------------------


@dataclass
class Captured:
    statements: list[tuple[str, Any, float]] = field(default_factory=list)  # sql, parameters, seconds


@contextlib.contextmanager
def capture(engine: sa.Engine) -> Iterator[Captured]:
    captured = Captured()
    started: list[float] = []

    def before(*event: Any) -> None:
        started.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.statements.append((statement, parameters, time.perf_counter() - (started.pop() if started else 0)))

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield captured
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def test_client_for(app: Flask, sessions: dict[str, HttpSession], who: str) -> FlaskClient:
    """A test client carrying the cookies gunicorn gave ``who`` at sign-in (same secret, same database)."""
    client = app.test_client()
    if who != "visitor":
        for name, value in sessions[who].cookies.items():
            client.set_cookie(name, value)
    return client


def queries(app: Flask, client: FlaskClient, path: str) -> tuple[int, int, int, Captured]:
    """Status, queries and bytes of one request (after one unmeasured request warms the worker)."""
    client.get(path)
    with app.app_context():
        engine = db.engine
    with capture(engine) as captured:
        response = client.get(path)
        size = len(response.get_data())
    return response.status_code, len(captured.statements), size, captured


# --- EXPLAIN -------------------------------------------------------------------------------------


def _plan(app: Flask, statement: str, parameters: Any) -> list[str]:
    """EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, of a statement as
    it was sent to the database (with its parameters)."""
    with app.app_context():
        prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        with db.engine.connect() as connection:
            rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    return [str(row[-1]) for row in rows]


def explain_page(app: Flask, client: FlaskClient, path: str, table: str) -> list[str]:
    """The plan of the slowest query ``path`` runs on ``table`` (captured with a SQLAlchemy event)."""
    _status, _count, _size, captured = queries(app, client, path)
    mentioning = [s for s in captured.statements if re.search(rf"\bFROM\s+{table}\b|\bJOIN\s+{table}\b", s[0])]
    if not mentioning:
        return [f"(no query on {table} captured)"]
    statement, parameters, seconds = max(mentioning, key=lambda s: s[2])
    return [
        f"-- slowest query on {table}, {seconds * 1000:.1f} ms:",
        *_short(statement),
        "-- plan:",
        *_plan(app, statement, parameters),
    ]


def _short(statement: str) -> list[str]:
    """The query without its column list (SELECT … FROM ...), in lines of 160 characters."""
    flat = " ".join(statement.split())
    head, found, rest = flat.partition(" FROM ")
    if found and head.startswith("SELECT"):
        flat = "SELECT … FROM " + rest
    return [flat[i : i + 160] for i in range(0, len(flat), 160)]


# --- exports: time and worker memory -------------------------------------------------------------


@dataclass
class Export:
    status: int
    seconds: float
    megabytes: float
    rows: int
    before_mb: float
    peak_mb: float
    after_mb: float


def export(server: Server, session: HttpSession, path: str) -> Export:
    """Stream ``path`` through gunicorn, sampling every worker's RSS every 10 ms; the figures of
    the worker whose memory rose most (the one that served it)."""
    workers = server.workers()
    before = {pid: rss_kb(pid) for pid in workers}
    peak = dict(before)
    running = True

    def sample() -> None:
        while running:
            for pid in workers:
                peak[pid] = max(peak[pid], rss_kb(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    received = [0, 0]

    def take(chunk: bytes) -> None:
        received[0] += len(chunk)
        received[1] += chunk.count(b"\n")

    began = time.perf_counter()
    try:
        status, _headers, _ = session.request("GET", path, stream=take)
    except (http.client.HTTPException, OSError):
        status = 0  # cut off: gunicorn's worker timeout killed the worker (see gunicorn.log)
    seconds = time.perf_counter() - began
    running = False
    sampler.join()
    time.sleep(0.2)
    after = {pid: rss_kb(pid) for pid in workers}
    pid = max(workers, key=lambda p: peak[p] - before[p])
    if not after[pid]:  # the worker was killed: its last sample stands for "after"
        after[pid] = peak[pid]
    return Export(
        status,
        seconds,
        received[0] / 1e6,
        max(0, received[1] - 1),
        before[pid] / 1024,
        peak[pid] / 1024,
        after[pid] / 1024,
    )


# --- the soak ------------------------------------------------------------------------------------


@dataclass
class Minute:
    requests: int = 0
    writes: int = 0
    errors: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # "comment 400": 1, "busy": 3 ...
    seconds: list[float] = field(default_factory=list)


def soak(
    server: Server, sessions: dict[str, HttpSession], report: fill.FillReport, minutes: float, rate: float
) -> list[str]:
    """Open-loop load: a request every 1/``rate`` s, 80% page reads (the key pages, by their role),
    10% a comment on a learning post, 10% a claim saved as a draft; per minute the requests,
    errors (5xx, refused writes, failed connections) and each worker's memory."""
    post = report.ids["post"]
    # Writers: a few member sessions of their own, each used by one write at a time (a write is
    # a GET for the form's CSRF token, then the POST).
    writers: queue.Queue[HttpSession] = queue.Queue()
    for _ in range(4):
        writers.put(sign_in_http(server.port, report.who["member"]))
    lock = threading.Lock()
    current: list[Minute] = [Minute()]
    lines: list[str] = []
    rng = random.Random(11)
    semaphore = threading.BoundedSemaphore(32)

    def comment(member: HttpSession) -> int:
        token = member.token(f"/learning/{post}")
        status, _, _ = member.request(
            "POST", f"/learning/{post}/comments", {"body": f"Soak comment {time.time():.3f}", "csrf_token": token}
        )
        return status

    def draft(member: HttpSession) -> int:
        token = member.token("/claims/new")
        form = {
            "activity_type_id": str(report.ids["activity"]),
            "activity_date": time.strftime("%Y-%m-%d"),
            "units": "1.5",
            "project_id": "",
            "notes": "Soak draft",
            "csrf_token": token,
        }
        status, _, _ = member.request("POST", "/claims/new", form)
        return status

    def one(kind: str, page: Page | None) -> None:
        began = time.perf_counter()
        try:
            if page is not None:
                session = sessions.get(page.who) or HttpSession(server.port)
                status = session.request("GET", page.path)[0]
                failed = status >= 400
            else:
                member = writers.get()
                try:
                    status = comment(member) if kind == "comment" else draft(member)
                finally:
                    writers.put(member)
                failed = status not in (302, 303)  # a saved write redirects
        except OSError:
            status, failed = 0, True
        finally:
            semaphore.release()
        with lock:
            minute = current[0]
            minute.requests += 1
            minute.writes += page is None
            minute.errors += failed
            if failed:
                what = f"{kind} {status or 'no answer'}"
                minute.failures[what] = minute.failures.get(what, 0) + 1
            minute.seconds.append(time.perf_counter() - began)

    start = time.perf_counter()
    minute_start = start
    next_at = start
    number = 0
    header = f"{'minute':>6} {'requests':>9} {'writes':>7} {'errors':>7} {'p95 ms':>8}  worker RSS MB"
    print(header)
    lines.append(header)
    while time.perf_counter() - start < minutes * 60:
        now = time.perf_counter()
        if now >= minute_start + 60:
            with lock:
                done, current[0] = current[0], Minute()
            number += 1
            p95 = statistics.quantiles(done.seconds, n=20)[-1] * 1000 if len(done.seconds) > 1 else 0.0
            rss = " ".join(f"{rss_kb(pid) / 1024:.0f}" for pid in server.workers())
            line = f"{number:6} {done.requests:9} {done.writes:7} {done.errors:7} {p95:8.0f}  {rss}"
            if done.failures:
                line += "  " + ", ".join(f"{what}: {count}" for what, count in sorted(done.failures.items()))
            print(line, flush=True)
            lines.append(line)
            minute_start += 60
        if now < next_at:
            time.sleep(min(next_at - now, 0.05))
            continue
        next_at += 1 / rate
        roll = rng.random()
        kind, page = ("comment", None) if roll < 0.1 else ("draft", None) if roll < 0.2 else ("read", rng.choice(PAGES))
        if not semaphore.acquire(blocking=False):  # 32 already waiting: the portal is not keeping up
            with lock:
                current[0].requests += 1
                current[0].errors += 1
                current[0].failures["busy (32 waiting)"] = current[0].failures.get("busy (32 waiting)", 0) + 1
            continue
        threading.Thread(target=one, args=(kind, page), daemon=True).start()
    return lines


# --- the run -------------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[str, str, fill.FillReport]:
    """The folder, the database URI and the fill's report: filled now, or read back (--reuse)."""
    database_url = os.environ.get("PORTAL_BENCH_DATABASE_URL", "")
    if args.reuse:
        folder = os.path.abspath(args.reuse)
        saved = json.loads(Path(folder, "bench.json").read_text())
        report = fill.FillReport(**saved["report"])
        schema = saved["schema"]
        if bool(database_url) != (report.dialect == "postgresql"):
            raise SystemExit(f"{folder} holds a {report.dialect} fill: set PORTAL_BENCH_DATABASE_URL to match.")
        print(
            f"Reusing the {report.dialect} fill at scale {report.scale} in {folder} (filled in {report.seconds:.0f} s)."
        )
        uri = fill.database_uri(folder, database_url, schema)
        app = fill.make_app(folder, uri)
        with app.app_context():  # a fill made before newer revisions gets their indexes
            upgrade()
            db.engine.dispose()
        return folder, uri, report
    folder = os.path.abspath(args.folder or tempfile.mkdtemp(prefix="portal-bench-"))
    os.makedirs(folder, exist_ok=True)
    shutil.rmtree(os.path.join(folder, "story-keys"), ignore_errors=True)
    schema = args.schema
    began = time.perf_counter()
    uri = fill.new_database(folder, database_url, schema)
    app = fill.make_app(folder, uri)
    with app.app_context():
        print(f"Filling the database ({db.engine.dialect.name}, scale {args.scale}) in {folder}:")
        report = fill.fill(app, args.scale)
        db.engine.dispose()
    report.seconds = time.perf_counter() - began  # with the migrations
    Path(folder, "bench.json").write_text(json.dumps({"schema": schema, "report": report.as_dict()}, indent=2))
    return folder, uri, report


def print_fill(report: fill.FillReport, folder: str) -> None:
    print(f"\nFill: {report.seconds:.0f} s on {report.dialect} at scale {report.scale}")
    print("  " + ", ".join(f"{name} {count:,}" for name, count in report.counts.items()))
    if report.key_files:
        per = report.key_seconds / max(1, report.counts.get("story key files", 1))
        stats = [f.stat() for f in Path(folder, "story-keys").glob("*.key")]
        size, disk = sum(s.st_size for s in stats), sum(s.st_blocks * 512 for s in stats)
        print(
            f"  story keys: {report.counts.get('story key files', 0):,} story key files made and their words sealed in "
            f"{report.key_seconds:.0f} s ({per * 1000:.2f} ms each with {fill.KEY_THREADS} threads; "
            f"100,000 would take about {per * 100_000:.0f} s); {len(stats):,} key files (with the waiting emails'), "
            f"{size / 1e6:.1f} MB of keys in {disk / 1e6:.0f} MB of disk blocks"
        )


def measure(args: argparse.Namespace, folder: str, uri: str, report: fill.FillReport) -> None:
    logs = Path(folder, "gunicorn.log")
    env = fill.environment(folder, uri)
    app = fill.make_app(folder, uri)
    portal = serve("wsgi:app", env, args.workers, logs, args.timeout)
    reference = serve("tests.benchmarks.reference_app:create()", env, args.workers, logs, args.timeout)
    try:
        sessions = {role: sign_in_http(portal.port, email) for role, email in report.who.items()}
        formats = {**report.ids, "claims_csv": claims_export_path(app)}
        if args.soak:
            print(
                f"\nSoak: {args.soak_minutes} minutes at {args.soak_rate} requests/s (80% reads, 10% comments, 10% drafts)"
            )
            soak(portal, sessions, report, args.soak_minutes, args.soak_rate)
            return
        measure_pages(args, app, portal, reference, sessions, formats)
        if not args.skip_exports:
            measure_exports(app, portal, sessions, formats)
        if not args.skip_explain:
            print(f"\nEXPLAIN ({report.dialect})")
            with app.app_context():  # every query the library and feed pages send (tests/benchmarks/explain.py)
                print(explain.report())
            for page, table in EXPLAINED:
                print(f"\n{page.name} page: {page.path} as {page.who}")
                for line in explain_page(app, test_client_for(app, sessions, page.who), page.path, table):
                    print(f"  {line}")
    finally:
        portal.stop()
        reference.stop()
        with app.app_context():
            db.engine.dispose()


def measure_pages(
    args: argparse.Namespace,
    app: Flask,
    portal: Server,
    reference: Server,
    sessions: dict[str, HttpSession],
    formats: dict[str, Any],
) -> None:
    seconds, connections = args.seconds, args.connections
    print(
        f"\nPages: wrk, {connections} connections, {seconds} s each after a 2 s warm-up; gunicorn {args.workers} workers"
    )
    references: dict[str, Load] = {}
    for path in ("/", "/plain"):
        url = f"http://127.0.0.1:{reference.port}{path}"
        wrk(url, "", 2, connections)
        references[path] = wrk(url, "", seconds, connections)
    base = references["/"]
    reference_url = f"http://127.0.0.1:{reference.port}/"
    print(
        f"\n{'page':32} {'who':8} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'p95 x':>6} {'queries':>7} {'KB':>6} {'status':>6} {'errors':>6} {'ref r/s':>7}"
    )

    def row(name: str, who: str, load: Load, near: Load, count: int | str, size: float, status: int | str) -> None:
        print(
            f"{name:32} {who:8} {load.requests_per_second:7.1f} {load.requests_per_second / near.requests_per_second:6.2f} "
            f"{load.p50:7.1f} {load.p95:7.1f} {load.p99:7.1f} {load.p95 / max(near.p95, 1e-9):6.2f} "
            f"{count!s:>7} {size / 1024:6.1f} {status!s:>6} {load.errors:6} {near.requests_per_second:7.1f}"
            + ("  (no request finished within the run: each took longer)" if not load.requests_per_second else ""),
            flush=True,
        )

    row("reference (25 stories, unsealed)", "visitor", base, base, 1, base.bytes_per_request, 200)
    plain = references["/plain"]
    row("reference, titles not unsealed", "visitor", plain, base, 1, plain.bytes_per_request, 200)
    ratios: list[float] = []
    for page in PAGES:
        if args.only and args.only not in page.name:
            continue
        path = page.path.format(**formats)
        status, count, size, _ = queries(app, test_client_for(app, sessions, page.who), path)
        cookie = sessions[page.who].cookie_header() if page.who != "visitor" else ""
        url = f"http://127.0.0.1:{portal.port}{path}"
        # The reference again just before this page: on a shared machine the load drifts, so each
        # page is compared with the reference measured next to it.
        near = wrk(reference_url, "", max(3, seconds // 2), connections)
        wrk(url, cookie, 2, connections)
        load = wrk(url, cookie, seconds, connections)
        ratios.append(load.requests_per_second / near.requests_per_second)
        row(page.name, page.who, load, near, count, size, status)
    print(
        "\n  ratio: requests/s over the reference's, measured just before the page (ref r/s); p95 x: p95 over"
        " that reference's p95; queries and KB: one test-client request; errors: wrk's non-2xx/3xx answers,"
        " timeouts and socket errors."
    )
    if ratios:
        print(
            f"  lowest ratio {min(ratios):.2f}; pages at or above 0.7: {sum(r >= 0.7 for r in ratios)} of {len(ratios)}"
        )


def measure_exports(app: Flask, portal: Server, sessions: dict[str, HttpSession], formats: dict[str, Any]) -> None:
    print("\nExports: streamed through gunicorn; the serving worker's RSS before, at its peak and after")
    print(
        f"{'export':20} {'status':>6} {'seconds':>8} {'MB':>7} {'lines':>9} {'RSS before':>11} {'peak':>7} {'after':>7} {'growth':>7}"
    )
    for page in EXPORTS:
        path = page.path.format(**formats)
        if not path:
            print(f"{page.name:20} (the portal has no such export yet)")
            continue
        found = export(portal, sessions[page.who], path)
        if not found.status:
            print(
                f"{page.name:20} CUT OFF after {found.seconds:.1f} s and {found.megabytes:.1f} MB (a worker timeout? "
                f"see gunicorn.log); RSS {found.before_mb:.0f}M before, {found.peak_mb:.0f}M at the peak"
            )
            continue
        print(
            f"{page.name:20} {found.status:6} {found.seconds:8.2f} {found.megabytes:7.1f} {found.rows:9,} "
            f"{found.before_mb:10.0f}M {found.peak_mb:6.0f}M {found.after_mb:6.0f}M {found.peak_mb - found.before_mb:6.0f}M"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (1 = the issue's size)")
    parser.add_argument(
        "--folder", default="", help="where the SQLite file, key files and logs go (default: a temporary folder)"
    )
    parser.add_argument("--reuse", default="", metavar="PATH", help="measure an earlier fill kept with --keep")
    parser.add_argument("--keep", action="store_true", help="keep the folder (and the PostgreSQL schema) for --reuse")
    parser.add_argument("--schema", default=SCHEMA, help="PostgreSQL: the schema the bench fills (dropped first)")
    parser.add_argument("--fill-only", action="store_true", help="fill, then stop (with --keep)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk's duration per page")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--timeout", type=int, default=30, help="gunicorn's worker timeout (its default: 30 s)")
    parser.add_argument("--only", default="", help="load only the pages whose name contains this")
    parser.add_argument("--skip-exports", action="store_true")
    parser.add_argument("--skip-explain", action="store_true")
    parser.add_argument("--soak", action="store_true", help="mixed reads and writes at a steady rate instead")
    parser.add_argument("--soak-minutes", type=float, default=30)
    parser.add_argument("--soak-rate", type=float, default=50, help="requests per second")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("The bench needs wrk: apt-get install -y wrk")
    if not 0 < args.scale <= 1:
        raise SystemExit("--scale must be above 0 and at most 1.")
    folder, uri, report = prepare(args)
    keep = args.keep or bool(args.reuse)
    try:
        print_fill(report, folder)
        if not args.fill_only:
            measure(args, folder, uri, report)
    finally:
        if not keep:
            fill.drop_database(folder, os.environ.get("PORTAL_BENCH_DATABASE_URL", ""), args.schema)
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"\nKept: --reuse {folder}")


if __name__ == "__main__":
    main()
