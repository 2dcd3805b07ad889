"""Safe means safe for BGT501 (V2.8): the fix bounds the connect and nothing else.

Each case runs the code before and after `fix` (connect-timeout T = 1 s) against local
TCP servers on 127.0.0.1 only:
- a server that accepts and answers after 2 s (slow but healthy): the fixed code must
  get the same answer as the original, the connect-only timeout must not fire;
- a listener with backlog 0 that never accepts, its queue filled by another pending
  connection, so that a further connect cannot complete: the fixed code must fail
  with a timeout after about T.
Every server loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import pytest

from bgtask_lint.config import Settings
from bgtask_lint.project import Project

# every fix here must be the same whether a command sees the whole module or its skeleton
pytestmark = pytest.mark.usefixtures("whole_and_cut_modules")

HOST = "127.0.0.1"  # never any other address
T = 1.0
DELAY = 2.0  # the healthy server's answer comes after 2 * T
MAX_CONNECTIONS = 20
DEADLINE = 15.0  # no server thread lives longer


# --- local servers -------------------------------------------------------------------------


def _read_http_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _http_answer(conn: socket.socket) -> None:
    _read_http_request(conn)
    time.sleep(DELAY)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nok")


def _greeting(conn: socket.socket) -> None:
    time.sleep(DELAY)
    conn.sendall(b"hello\n")


def _redis_answer(conn: socket.socket) -> None:
    """A few RESP commands: +OK to each, +PONG (after the delay) to PING."""
    buffer = b""
    for _ in range(16):
        while b"\r\n" not in buffer:
            chunk = conn.recv(4096)
            if not chunk:
                return
            buffer += chunk
        header, buffer = buffer.split(b"\r\n", 1)
        count = int(header[1:]) if header.startswith(b"*") else 0
        args = []
        for _ in range(count):
            while buffer.count(b"\r\n") < 2:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
            _length, buffer = buffer.split(b"\r\n", 1)
            value, buffer = buffer.split(b"\r\n", 1)
            args.append(value.upper())
        if args[:1] == [b"PING"]:
            time.sleep(DELAY)
            conn.sendall(b"+PONG\r\n")
            return
        conn.sendall(b"+OK\r\n")


@contextlib.contextmanager
def slow_server(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    """A server on 127.0.0.1 that accepts and answers after DELAY; yields its port."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(DEADLINE)
            with contextlib.suppress(OSError):
                answer(conn)

    def serve() -> None:
        started = time.monotonic()
        accepted = 0
        while not stop.is_set() and accepted < MAX_CONNECTIONS and time.monotonic() - started < DEADLINE:
            try:
                conn, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            accepted += 1
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(1.0)
        listener.close()


@contextlib.contextmanager
def unconnectable_port() -> Iterator[int]:
    """A listener (backlog 0) that never accepts, its accept queue filled: on Linux a
    further SYN to it is dropped, so a connect cannot complete."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    full = False
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.settimeout(0.3)
            try:
                filler.connect((HOST, port))
                fillers.append(filler)
            except (socket.timeout, OSError):
                filler.close()
                full = True
                break
        if not full:
            pytest.skip("this system completes connects to a full backlog (not Linux?)")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# --- running the code before and after the fix ------------------------------------------------


def fixed_text(tmp_path: Path, text: str, unsafe: bool = False) -> str:
    path = tmp_path / "client.py"
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",), connect_timeout=T))
    return project.fix_text(path, text, unsafe=unsafe).new_text


def load(text: str) -> types.ModuleType:
    module = types.ModuleType("bgt_client")
    exec(compile(text, "bgt_client.py", "exec"), module.__dict__)
    return module


def run(module: types.ModuleType, port: int):
    result = module.call(HOST, port)
    return asyncio.run(result) if asyncio.iscoroutine(result) else result


def timed(module: types.ModuleType, port: int) -> tuple[object, float]:
    started = time.monotonic()
    try:
        outcome: object = run(module, port)
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        outcome = exc
    return outcome, time.monotonic() - started


# (id, module text before the fix, the text the fix must add, the server's answer, result)
CLIENTS = [
    ("requests", """\
import requests


def call(host, port):
    return requests.get(f"http://{host}:{port}/").text
""", "timeout=(1.0, None)", _http_answer, "ok"),
    ("requests-session", """\
import requests


def call(host, port):
    session = requests.Session()
    return session.get(f"http://{host}:{port}/").text
""", "timeout=(1.0, None)", _http_answer, "ok"),
    ("requests-timeout-none", """\
import requests


def call(host, port):
    return requests.get(f"http://{host}:{port}/", timeout=None).text
""", "timeout=(1.0, None)", _http_answer, "ok"),
    ("to-thread-requests", """\
import asyncio

import requests


async def call(host, port):
    response = await asyncio.to_thread(requests.get, f"http://{host}:{port}/")
    return response.text
""", "timeout=(1.0, None)", _http_answer, "ok"),
    ("httpx", """\
import httpx


def call(host, port):
    with httpx.Client(timeout=None) as client:
        return client.get(f"http://{host}:{port}/").text
""", "timeout=httpx.Timeout(None, connect=1.0)", _http_answer, "ok"),
    ("aiohttp", """\
import aiohttp


async def call(host, port):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://{host}:{port}/", timeout=None) as response:
            return await response.text()
""", "timeout=aiohttp.ClientTimeout(sock_connect=1.0)", _http_answer, "ok"),
    ("open-connection", """\
import asyncio


async def call(host, port):
    reader, writer = await asyncio.open_connection(host, port)
    line = await reader.readline()
    writer.close()
    return line.decode().strip()
""", "asyncio.wait_for(asyncio.open_connection(host, port), timeout=1.0)", _greeting, "hello"),
    ("redis", """\
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def call(host, port):
    # one attempt (redis-py retries timeouts with a backoff by default), RESP2 (no HELLO)
    client = redis.Redis(host=host, port=port, socket_timeout=None, protocol=2, retry=Retry(NoBackoff(), 0))
    try:
        return client.ping()
    finally:
        client.close()
""", "socket_connect_timeout=1.0", _redis_answer, True),
    ("httpx-function", """\
import httpx


def call(host, port):
    return httpx.get(f"http://{host}:{port}/", timeout=None).text
""", "timeout=httpx.Timeout(None, connect=1.0)", _http_answer, "ok"),
    ("httpx-async-client", """\
import httpx


async def call(host, port):
    async with httpx.AsyncClient(timeout=None) as client:
        return (await client.get(f"http://{host}:{port}/")).text
""", "timeout=httpx.Timeout(None, connect=1.0)", _http_answer, "ok"),
    ("redis-from-url", """\
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def call(host, port):
    client = redis.from_url(f"redis://{host}:{port}", socket_timeout=None, protocol=2, retry=Retry(NoBackoff(), 0))
    try:
        return client.ping()
    finally:
        client.close()
""", "socket_connect_timeout=1.0", _redis_answer, True),
]
IDS = [case[0] for case in CLIENTS]


@pytest.mark.parametrize("name,before,added,answer,expected", CLIENTS, ids=IDS)
def test_slow_but_healthy_answer_is_still_received(tmp_path: Path, name, before, added, answer, expected) -> None:
    after = fixed_text(tmp_path, before)
    assert added in after, after
    with slow_server(answer) as port, ThreadPoolExecutor(2) as pool:  # before and after side by side
        original, fixed = pool.map(lambda text: timed(load(text), port), [before, after])
    assert original[0] == expected, original
    assert fixed[0] == expected, fixed  # the connect-only timeout did not fire
    assert fixed[1] >= DELAY - 0.2


@pytest.mark.parametrize("name,before,added,answer,expected", CLIENTS, ids=IDS)
def test_connect_that_cannot_complete_times_out(tmp_path: Path, name, before, added, answer, expected) -> None:
    after = fixed_text(tmp_path, before)
    with unconnectable_port() as port:
        outcome, elapsed = timed(load(after), port)
    assert isinstance(outcome, Exception), outcome
    assert "timeout" in type(outcome).__name__.lower() or "timed out" in str(outcome).lower() \
        or isinstance(outcome, TimeoutError), repr(outcome)
    assert T - 0.2 <= elapsed < T + 3.0


def test_original_waits_past_the_timeout(tmp_path: Path) -> None:
    """The same unconnectable port: unfixed, requests is still waiting at 2 T."""
    before = CLIENTS[0][1]
    module = load(before)
    done = threading.Event()

    def call() -> None:
        with contextlib.suppress(Exception):
            run(module, port)
        done.set()

    with unconnectable_port() as port:
        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        assert not done.wait(2 * T)
    # the listener is closed: the next SYN is refused, and the call ends
    thread.join(DEADLINE)


# --- what the safe fix leaves alone ----------------------------------------------------------


def test_reads_bounding_apis_are_fixed_only_with_unsafe_fixes(tmp_path: Path) -> None:
    """smtplib's one timeout also bounds every read: T would fail a slow server."""
    before = """\
import smtplib


def call(host, port):
    with smtplib.SMTP(host, port) as smtp:
        return smtp.noop()[0]
"""
    assert fixed_text(tmp_path, before) == before
    after = fixed_text(tmp_path, before, unsafe=True)
    assert "smtplib.SMTP(host, port, timeout=1.0)" in after

    def greet_slowly(conn: socket.socket) -> None:
        time.sleep(DELAY)
        conn.sendall(b"220 ready\r\n")
        conn.recv(1024)
        conn.sendall(b"250 ok\r\n")

    with slow_server(greet_slowly) as port:
        outcome, _ = timed(load(after), port)
    # why it is unsafe: the slow but healthy greeting now fails
    assert isinstance(outcome, Exception) and "timed out" in str(outcome), repr(outcome)


def test_session_whose_requests_all_pass_a_timeout_is_left_alone(tmp_path: Path) -> None:
    before = """\
import httpx


async def call(urls):
    async with httpx.AsyncClient(timeout=None) as client:
        return [(await client.get(url, timeout=60)).text for url in urls]
"""
    assert fixed_text(tmp_path, before) == before


@pytest.mark.parametrize("client, call, expected", [
    ("requests.Session()", "get(url)", "get(url, timeout=(1.0, None))"),
    ("aiohttp.ClientSession()", "get(url, timeout=None)", "get(url, timeout=aiohttp.ClientTimeout(sock_connect=1.0))"),
    ("httpx.AsyncClient()", "get(url, timeout=None)", "get(url, timeout=httpx.Timeout(None, connect=1.0))"),
])
def test_a_client_made_in_another_method_keeps_its_connect_only_fix(tmp_path: Path, client: str, call: str,
                                                                     expected: str) -> None:
    # the client is known from __init__, a def the fix of `fetch` need not show LibCST
    library = client.split(".")[0]
    before = (f"import {library}\n\n\nclass Fetcher:\n    def __init__(self):\n        self.session = {client}\n\n"
              f"    def fetch(self, url):\n        return self.session.{call}\n")
    after = fixed_text(tmp_path, before)
    assert f"self.session.{expected}" in after, after
    assert after.replace(expected, call) == before  # nothing else: never a read or total bound


def test_lazily_imported_library_is_not_imported_at_the_top(tmp_path: Path) -> None:
    before = """\
def call(host, port):
    import httpx

    return httpx.get(f"http://{host}:{port}/", timeout=None).text


def other(url):
    from aiohttp import ClientSession

    return ClientSession


async def fetch(session, url):
    from aiohttp import ClientSession

    session = ClientSession()
    return await session.get(url, timeout=None)
"""
    after = fixed_text(tmp_path, before)
    assert 'httpx.get(f"http://{host}:{port}/", timeout=httpx.Timeout(None, connect=1.0))' in after
    assert "import aiohttp" not in after  # optional dependency stays optional: no fix there
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",)))
    findings = project.check(project.module(tmp_path / "client.py"))
    aiohttp_finding = [f for f in findings if "aiohttp" in f.message]
    assert aiohttp_finding and aiohttp_finding[0].fix is None
    assert "imported only lazily" in aiohttp_finding[0].message


CASES = sorted(p for p in (Path(__file__).parent / "fixtures" / "fixes" / "bgt501").glob("*.py")
               if not p.name.endswith(".fixed.py"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_rule_and_codemod_agree(tmp_path: Path, case: Path) -> None:
    """A safe finding where, and only where, the codemod has something to write."""
    text = case.read_text()
    path = tmp_path / "client.py"
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",)))
    safe = [f for f in project.check(project.module(path)) if f.fix == "safe"]
    changed = project.fix_text(path, text).new_text != text
    assert bool(safe) == changed == case.with_name(case.stem + ".fixed.py").exists()


def test_a_dsn_not_written_here_gets_only_an_unsafe_fix(tmp_path: Path) -> None:
    """psycopg2 merges its keywords over the DSN's parameters (keywords win): a DSN read
    from the environment may set connect_timeout=30 for a slow network, which the fix's
    connect_timeout would override. A DSN written in the code shows whether it sets one."""
    before = """\
import os

import psycopg2


def from_environment():
    return psycopg2.connect(os.environ["DATABASE_URL"])


def written_here():
    return psycopg2.connect("dbname=app host=db")
"""
    path = tmp_path / "client.py"
    path.write_text(before)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",), connect_timeout=T))
    findings = {f.line: f for f in project.check(project.module(path))}
    assert findings[7].fix == "unsafe" and "may set connect_timeout itself" in findings[7].message
    assert findings[11].fix == "safe"
    after = fixed_text(tmp_path, before)
    assert 'psycopg2.connect(os.environ["DATABASE_URL"])\n' in after
    assert 'psycopg2.connect("dbname=app host=db", connect_timeout=1)' in after
    assert 'psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=1)' in fixed_text(tmp_path, before, True)


def test_a_wait_for_fix_needs_asyncio_to_be_the_library(tmp_path: Path) -> None:
    """aiopg's connect is bounded by wrapping it in asyncio.wait_for: with `asyncio` bound to
    something else in the module, the fixed line would call `None.wait_for`."""
    before = ("import aiopg\n\nasyncio = None  # set at start-up\n\n\nasync def connect(dsn):\n"
              "    return await aiopg.connect(dsn, timeout=None)\n")
    path = tmp_path / "client.py"
    path.write_text(before)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",), connect_timeout=T))
    [finding] = project.check(project.module(path))
    assert finding.fix is None and "`asyncio` is bound to something else here" in finding.message
    assert fixed_text(tmp_path, before) == before
    plain = before.replace("asyncio = None  # set at start-up\n\n\n", "\n")
    assert "await asyncio.wait_for(aiopg.connect(dsn, timeout=None), timeout=1.0)" in fixed_text(tmp_path, plain)


# --- a requests session whose adapter may bound its requests ---------------------------------

TIMEOUT_ADAPTER = """\
import requests
from requests.adapters import HTTPAdapter


class TimeoutHTTPAdapter(HTTPAdapter):
    def __init__(self, *args, timeout=None, **kwargs):
        self.timeout = timeout
        super().__init__(*args, **kwargs)

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def call(host, port):
    session = requests.Session()
    session.mount("http://", TimeoutHTTPAdapter(timeout=1.0))
    return session.get(f"http://{host}:{port}/").text
"""


def test_a_session_with_its_own_adapter_is_left_alone(tmp_path: Path) -> None:
    """The adapter gives every request of the session a 1 s timeout. A `timeout=(T, None)`
    on the call would replace it and lift the read limit: the slow answer the adapter
    cuts off would be waited for, and a silent server forever."""
    path = tmp_path / "client.py"
    path.write_text(TIMEOUT_ADAPTER)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",), connect_timeout=T))
    assert project.check(project.module(path)) == []
    assert fixed_text(tmp_path, TIMEOUT_ADAPTER) == TIMEOUT_ADAPTER
    lifted = TIMEOUT_ADAPTER.replace('port}/")', 'port}/", timeout=(1.0, None))')
    with slow_server(_http_answer) as port, ThreadPoolExecutor(2) as pool:
        original, with_call_timeout = pool.map(lambda text: timed(load(text), port), [TIMEOUT_ADAPTER, lifted])
    assert "timed out" in str(original[0]).lower(), original  # the adapter's read bound holds
    assert with_call_timeout[0] == "ok"  # what the old fix did: the read waited DELAY


@pytest.mark.parametrize("body, fix", [
    # requests' own adapter sets no timeout: the session is as unbounded as any
    ('    session = requests.Session()\n    session.mount("http://", HTTPAdapter(max_retries=3))\n'
     '    return session.get(url).text\n', "safe"),
    ('    session = requests.Session()\n    return session.get(url).text\n', "safe"),
    # made elsewhere, or handed to code that may mount an adapter
    ('    session = requests.Session()\n    configure(session)\n    return session.get(url).text\n', "unsafe"),
])
def test_a_session_made_out_of_sight_gets_only_an_unsafe_fix(tmp_path: Path, body: str, fix: str) -> None:
    text = ("import requests\nfrom requests.adapters import HTTPAdapter\n\n"
            "\n\ndef call(url):\n" + body)
    path = tmp_path / "client.py"
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",), connect_timeout=T))
    (finding,) = project.check(project.module(path))
    assert finding.fix == fix, finding.message
    assert ("adapter mounted on it may already bound" in finding.message) is (fix == "unsafe")
    assert (fixed_text(tmp_path, text) == text) is (fix == "unsafe")
    assert "timeout=(1.0, None)" in fixed_text(tmp_path, text, unsafe=True)


def test_a_session_parameter_gets_only_an_unsafe_fix(tmp_path: Path) -> None:
    text = "import requests\n\n\ndef call(session: requests.Session, url):\n    return session.get(url).text\n"
    path = tmp_path / "client.py"
    path.write_text(text)
    project = Project.load([tmp_path], Settings().with_overrides(select=("BGT501",), connect_timeout=T))
    (finding,) = project.check(project.module(path))
    assert finding.fix == "unsafe"
    assert fixed_text(tmp_path, text) == text
