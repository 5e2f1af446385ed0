"""``nettop web`` in a real browser: Debian's Chromium, headless, driven by Playwright (no browser download), against
the server on 127.0.0.1. What the page shows is read from what the server sends it (the terminal's output, as
the page's own websocket receives it): the table renders, keys reach the app, a typed filter applies, and no
app process outlives its page or the server."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from tests.children import end

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (.ci/run)")

#: Chromium as this machine lets it run: no sandbox as root, no GPU, and none of its own calls to the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
#: Records every message the page's websocket receives, as text, in ``window.received``.
RECORD_WEBSOCKET = """
window.received = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (event) => {
    const data = event.data;
    window.received.push(typeof data === "string" ? data : new TextDecoder().decode(data));
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def web_server(*viewer: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "nettop", "web", "--listen", f"127.0.0.1:{port}", "--", *viewer],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stderr is not None
        said = server.stderr.readline()
        assert f"serving http://127.0.0.1:{port}/" in said and "no authentication" in said, said
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.05)
        yield server, port
    finally:
        end(server)


def viewers(server: subprocess.Popen[str]) -> list[psutil.Process]:
    """The server's page viewers still running."""
    try:
        return [child for child in psutil.Process(server.pid).children(recursive=True) if child.is_running()]
    except psutil.NoSuchProcess:
        return []


def until(what: str, check: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)
    return found


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, port: int) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    # Loopback only. Whatever the page asks elsewhere is refused and kept, for the test to say (textual-serve's
    # own page asked Google for a font).
    elsewhere: list[str] = []

    def loopback_only(route: Any) -> None:
        if "://127.0.0.1:" in route.request.url:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", loopback_only)
    page.elsewhere = elsewhere
    page.add_init_script(RECORD_WEBSOCKET)
    page.goto(f"http://127.0.0.1:{port}/")
    return page


def screen_text(page: Any) -> str:
    """Everything the server has sent the page so far, as text (escape sequences removed)."""
    return _ESCAPES.sub("", "".join(page.evaluate("window.received")))


def test_the_viewer_renders_takes_keys_and_a_filter_and_ends_with_its_page(browser: Any) -> None:
    with socket.socket() as first, socket.socket() as second:
        for listener in (first, second):
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
        ports = sorted(listener.getsockname()[1] for listener in (first, second))
        with web_server("--interval", "1", "--no-config") as (server, port):
            page = open_page(browser, port)
            until("the table", lambda: "Local address" in screen_text(page))
            assert len(viewers(server)) == 1, "one viewer for the page"
            assert page.title() == "nettop" and page.elsewhere == [], "nettop's own page, which asks nothing elsewhere"
            page.focus("textarea.xterm-helper-textarea")  # the terminal takes the keys
            seen = len(screen_text(page))
            page.keyboard.press("/")
            until("the filter bar", lambda: "Filter:" in screen_text(page)[seen:])
            page.keyboard.type(f"lport:{ports[0]},{ports[1]}", delay=20)
            page.keyboard.press("Enter")
            until("the filter applied", lambda: "2/" in screen_text(page).split(f"lport:{ports[0]},{ports[1]}")[-1])
            seen = len(screen_text(page))
            # Before the details: an Escape typed just before it would reach a terminal as ESC k, Alt+K.
            page.keyboard.press("k")  # off in a browser without --allow-actions
            until("kill refused", lambda: "Kill and export are off" in screen_text(page)[seen:])
            seen = len(screen_text(page))
            page.keyboard.press("ArrowDown")  # the cursor to the second listener, then its details
            page.keyboard.press("Enter")
            until("the second listener's details", lambda: f"127.0.0.1:{ports[1]}" in screen_text(page)[seen:])
            page.close()
            until("the page's viewer to end", lambda: not viewers(server))
        assert server.returncode == 0


def test_a_page_closed_during_start_up_and_the_server_stopping_leave_no_viewer(browser: Any) -> None:
    with web_server("--interval", "1", "--no-config") as (server, port):
        page = open_page(browser, port)
        until("a viewer for the page", lambda: viewers(server))
        page.close()  # before the app has drawn anything, most likely
        until("the closed page's viewer to end", lambda: not viewers(server))
        kept = open_page(browser, port)
        until("the table", lambda: "Local address" in screen_text(kept))
        running = viewers(server)
        assert len(running) == 1
    _, alive = psutil.wait_procs(running, timeout=15)
    assert alive == [], "the server stopped with a page open: its viewer ended with it"
    assert server.returncode == 0


def test_a_server_killed_outright_leaves_no_viewer(browser: Any) -> None:
    """SIGKILL: no shutdown of the server's runs; the kernel's parent-death signal (and the app's orphan watch) end
    the page's viewer."""
    with web_server("--interval", "1", "--no-config") as (server, port):
        page = open_page(browser, port)
        until("the table", lambda: "Local address" in screen_text(page))
        running = viewers(server)
        assert len(running) == 1
        server.kill()
        server.wait(timeout=10)
        _, alive = psutil.wait_procs(running, timeout=15)
        assert alive == [], "the server was killed with a page open: its viewer ended with it"


def test_the_server_log_shows_what_clients_sent_escaped_one_line_a_request() -> None:
    """Its access log holds what any client sent: a header with an escape sequence is refused and said in one line,
    and a user agent with a direction override is shown escaped."""
    with web_server("--no-config") as (server, port):
        for agent in (b"x\x1b]0;retitled\x07", "y\u202etxt.exe".encode()):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(
                    b"GET /nothing HTTP/1.1\r\nHost: h\r\nUser-Agent: " + agent + b"\r\nConnection: close\r\n\r\n"
                )
                status = client.recv(64).split(b"\r\n")[0]
                assert status in (b"HTTP/1.0 400 Bad Request", b"HTTP/1.1 404 Not Found"), status
        server.terminate()
        _, log = server.communicate(timeout=20)
    assert "\x1b" not in log and "\u202e" not in log and "\x07" not in log
    assert "Traceback" not in log and "│" not in log, "no Rich traceback"
    (refused,) = [line for line in log.splitlines() if "BadHttpMessage" in line]
    assert "x\\x1b]0;retitled\\x07" in refused
    (served,) = [line for line in log.splitlines() if '"GET /nothing HTTP/1.1" 404' in line]
    assert served.endswith('"y\\u202etxt.exe"')
