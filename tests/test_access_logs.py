"""Search words travel in query strings, and never reach an access log."""

from __future__ import annotations

import logging
import runpy
import threading
import urllib.request
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from gunicorn.config import Config
from gunicorn.glogging import Logger
from werkzeug.serving import make_server

from portal.core.access_logs import without_query_strings

WORDS = "Zanzibarquill Marigold"
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", ["/search?q=Zanzibarquill+Marigold", "/stories?q=Zanzibarquill%20Marigold&page=2"])
def test_the_development_servers_request_log_has_the_path_but_not_the_words(
    app: Flask, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    server = make_server("127.0.0.1", 0, app)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}") as answer:
                assert answer.status == 200
                assert b"Zanzibarquill" in answer.read()  # the page itself still shows what was searched for
    finally:
        server.shutdown()
        serving.join()
        server.server_close()
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "werkzeug")
    assert f"GET {path.partition('?')[0]} HTTP" in logged
    assert "Zanzibarquill" not in logged and "Marigold" not in logged and "q=" not in logged


def test_gunicorns_access_log_has_the_path_but_not_the_words(capsys: pytest.CaptureFixture[str]) -> None:
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert "%(U)s" in settings["access_log_format"]
    assert "%(r)s" not in settings["access_log_format"] and "%(q)s" not in settings["access_log_format"]
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", settings["access_log_format"])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/search?q=Zanzibarquill+Marigold",
        "PATH_INFO": "/search",
        "QUERY_STRING": "q=Zanzibarquill+Marigold",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_REFERER": "http://portal.test/stories?q=Zanzibarquill",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    Logger(config).access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    logged = capsys.readouterr().out
    assert '"GET /search HTTP/1.1" 200 512' in logged
    assert "Zanzibarquill" not in logged and "Marigold" not in logged


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ('127.0.0.1 - - "GET /search?q=my+words HTTP/1.1" 200 -', '127.0.0.1 - - "GET /search HTTP/1.1" 200 -'),
        (
            '"GET /stories HTTP/1.1" 200 "http://portal.test/search?q=words"',
            '"GET /stories HTTP/1.1" 200 "http://portal.test/search"',
        ),
        ('"GET /learning HTTP/1.1" 200', '"GET /learning HTTP/1.1" 200'),
    ],
)
def test_any_query_string_left_in_a_log_line_is_cut(line: str, kept: str) -> None:
    assert without_query_strings(line) == kept
