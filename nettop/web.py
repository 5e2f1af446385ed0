"""``nettop web``: the viewer in a browser, served by textual-serve (the Textual project's own server).

Each page that connects gets a viewer of its own: a child process, ``python -m nettop.web``, that runs the same app
with Textual's web driver. textual-serve starts it through a shell, so the command line is fixed (this
interpreter and this module, quoted); what the user asked for (the viewer's options) travels in the environment,
as JSON, and is parsed by nettop's own parser in the child, never by a shell.

Every child ends with its page and with the server (a known trap: a page closed during start-up left its app
running at full CPU after the server stopped):

- a session's end stops its child, and kills it if it has not quit in ``QUIT_GRACE`` seconds;
- the server's shutdown ends every session still open;
- the child asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``), and the app quits when it
  finds itself orphaned (``NettopApp``'s browser watch).

Kill and export act on the server's machine, for whoever reaches the page: off unless ``--allow-actions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from nettop.text import safe

#: The viewer's options, as JSON, for the child; whether kill and export are on ("1").
ARGV_VARIABLE, ACTIONS_VARIABLE = "NETTOP_WEB_ARGV", "NETTOP_WEB_ACTIONS"
#: Seconds a child has to quit once asked, before it is killed.
QUIT_GRACE = 5.0
DEFAULT_LISTEN = "127.0.0.1:8711"
#: ``prctl``'s option that gives a signal to a process whose parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1


class OneLineLog(logging.Formatter):
    """The server's log (aiohttp's access log and errors) one line a record, made safe: it holds what any browser
    or client sent (paths, referers, user agents), and an error is its type and message, not a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            message = f"{message}: {type(error).__name__}: {error}"
        if record.name != "aiohttp.access":  # which has its own time
            message = f"{self.formatTime(record, '%H:%M:%S')} {message}"
        return safe(message)


def in_browser() -> bool:
    """Whether this process runs the viewer for textual-serve (it sets Textual's web driver)."""
    return os.environ.get("TEXTUAL_DRIVER", "").endswith("web_driver:WebDriver")


def actions_allowed() -> bool:
    return not in_browser() or os.environ.get(ACTIONS_VARIABLE) == "1"


def child_command() -> str:
    """The fixed command textual-serve runs for each page (``exec``: the shell becomes the child, so that the
    server is its parent)."""
    return f"exec {shlex.quote(sys.executable)} -m nettop.web"


def serve(host: str, port: int, viewer_argv: list[str], allow_actions: bool) -> None:
    """Serve until SIGINT or SIGTERM; every page's viewer is ended by then."""
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, log, to_int

    class Session(AppService):
        async def stop(self) -> None:
            try:
                async with asyncio.timeout(QUIT_GRACE):
                    await super().stop()
            except Exception:  # a session that broke mid-way: its process is ended below all the same
                log.debug("stopping a session", exc_info=True)
            finally:
                process = self._process
                if process is not None and process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()

    class WebServer(Server):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.sessions: set[Session] = set()

        async def handle_websocket(self, request: Any) -> Any:
            # textual-serve's own, with sessions that always end their process, and are ended at shutdown.
            from aiohttp import web

            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            session = Session(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                              close=websocket.close, download_manager=self.download_manager)  # fmt: skip
            self.sessions.add(session)
            try:
                await websocket.prepare(request)
                await session.start(width, height)
                await self._process_messages(websocket, session)
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:
                log.exception(error)
            finally:
                self.sessions.discard(session)
                await session.stop()
            return websocket

        def initialize_logging(self) -> None:
            # One plain line a record: no Rich traceback with its locals for each malformed request a scanner sends.
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(OneLineLog())
            logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)

        async def on_startup(self, app: Any) -> None:
            pass  # textual-serve prints its logo here; nettop says what it serves itself

        async def on_shutdown(self, app: Any) -> None:
            await asyncio.gather(*(session.stop() for session in list(self.sessions)), return_exceptions=True)

    os.environ[ARGV_VARIABLE] = json.dumps(viewer_argv)
    os.environ[ACTIONS_VARIABLE] = "1" if allow_actions else "0"
    # nettop's own page: textual-serve's asks Google for a font, a request a private network should never see.
    page = Path(__file__).with_name("web_page")
    WebServer(command=child_command(), host=host, port=port, title="nettop", templates_path=page).serve()


def child_main() -> int:
    """A page's viewer: the options the server was given, parsed as ``nettop``'s own."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the app's orphan watch still ends it
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the server died before the request above: nobody is there to show this to
        return 1
    from nettop.cli import main

    argv = json.loads(os.environ.get(ARGV_VARIABLE, "[]"))
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        return 2
    return main(argv)


if __name__ == "__main__":
    sys.exit(child_main())
