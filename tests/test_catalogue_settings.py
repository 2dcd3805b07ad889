"""The blocking-call and timeout catalogues: the `blocking-calls` setting (V2.5), and the
fix marker and message of BGT501 findings (V2.8)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.rules.bgt301_blocking_call_in_async import BlockingCallInAsync
from bgtask_lint.rules.bgt302_blocking_call_via_helper import BlockingCallViaHelper
from bgtask_lint.runner import check_paths
from markers import FIXTURES, describe, expected_under, found_by

BLOCKING_CALLS = ("resend.Emails.send", "app.mail.send_sync")
PROJECT = FIXTURES / "settings" / "blocking_calls"


def test_blocking_calls_setting_extends_bgt301_and_bgt302() -> None:
    result = check_paths([PROJECT], Settings(blocking_calls=BLOCKING_CALLS), root=PROJECT)
    assert not result.errors
    expected, found = expected_under(PROJECT), found_by(result.findings, PROJECT)
    assert expected == found, "\n" + describe(expected - found, found - expected)


def test_without_the_setting_nothing_is_found() -> None:
    result = check_paths([PROJECT], Settings(), root=PROJECT)
    assert [f for f in result.findings if f.code in ("BGT301", "BGT302")] == []


@pytest.mark.parametrize("rule", [BlockingCallInAsync, BlockingCallViaHelper])
def test_prefilter_words_include_the_configured_names(rule) -> None:
    words = rule.words_for(Settings(blocking_calls=BLOCKING_CALLS))
    assert "send" in words and "send_sync" in words
    assert rule.applies_to("def f(): send_sync()\n", False, Settings(blocking_calls=BLOCKING_CALLS))


def _bgt501(tmp_path: Path, code: str) -> list:
    path = tmp_path / "client.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    result = check_paths([path], Settings(select=("BGT501",)), root=tmp_path)
    assert not result.errors
    return result.findings


@pytest.mark.parametrize(
    ("code", "fix", "says"),
    [
        ("import requests\ndef f(u):\n    return requests.get(u)\n", "safe", "requests waits without a time limit"),
        ("import requests\ndef f(u):\n    s = requests.Session()\n    return s.post(u)\n", "safe", "requests waits"),
        ("import smtplib\ndef f():\n    return smtplib.SMTP('mail')\n", "unsafe", "setdefaulttimeout"),
        ("import ftplib\ndef f():\n    return ftplib.FTP('ftp')\n", "unsafe", "ftplib waits"),
        ("import imaplib\ndef f():\n    return imaplib.IMAP4_SSL('imap')\n", "unsafe", "imaplib waits"),
        ("import poplib\ndef f():\n    return poplib.POP3('pop')\n", "unsafe", "poplib waits"),
        ("import socket\ndef f(a):\n    return socket.create_connection(a)\n", "unsafe", "create_connection waits"),
        ("from urllib.request import urlopen\ndef f(u):\n    return urlopen(u)\n", "unsafe", "urlopen waits"),
        ("import redis\ndef f():\n    return redis.Redis()\n", "safe", "8.0 defaults both to 5 s"),
        ("import psycopg2\ndef f(h):\n    return psycopg2.connect(host=h)\n", "safe", "libpq waits indefinitely"),
        ("import psycopg2\ndef f(d):\n    return psycopg2.connect(d)\n", "unsafe", "may set connect_timeout itself"),
        ("import asyncpg\nasync def f(d):\n    return await asyncpg.connect(d, timeout=None)\n", "safe", "(60 s)"),
        ("import httpx\ndef f():\n    return httpx.Client(timeout=None)\n", "safe", "httpx's default timeout (5 s)"),
        ("import aiohttp\nasync def f():\n    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout())\n",
         None, "300 s in total"),
        ("import asyncio\nasync def f(h, p):\n    return await asyncio.open_connection(h, p)\n", "safe", "no timeout"),
        ("import asyncio\nasync def f(h, p):\n    c = asyncio.open_connection(h, p)\n    return c\n", None, "no timeout"),
    ],
)
def test_bgt501_fix_marker_and_message(tmp_path: Path, code: str, fix: str | None, says: str) -> None:
    findings = _bgt501(tmp_path, code)
    assert len(findings) == 1, findings
    assert findings[0].fix == fix
    assert says in findings[0].message
    assert "forever" not in findings[0].message


@pytest.mark.parametrize("runner", ["asyncio.to_thread(requests.get, u)",
                                    "asyncio.get_running_loop().run_in_executor(None, requests.get, u)",
                                    "anyio.to_thread.run_sync(requests.get, u)"])
def test_bgt501_sees_a_call_run_in_a_thread(tmp_path: Path, runner: str) -> None:
    code = f"import anyio.to_thread, asyncio, requests\nasync def f(u):\n    return await {runner}\n"
    findings = _bgt501(tmp_path, code)
    assert [f.message.split(":")[0] for f in findings] == ["requests.get() run in a thread"]
    if runner.startswith("asyncio.to_thread"):  # it passes keywords on to the call
        assert _bgt501(tmp_path, code.replace("requests.get, u)", "requests.get, u, timeout=5)")) == []
