"""Where the server may listen with the wall it has.

A server whose kernel refused a layer of the wall (`app.server.wall`) says so loudly at start and
in /healthz, and listens on loopback only, where the learner at that machine is the only
submitter, unless `AGX_ALLOW_WEAK_SANDBOX=1`. uvicorn binds its sockets after the app's
start-up, so the address comes from its command line (`--host`, `--fd`, `--uds`); behind
any other launcher every request that arrived on a non-loopback address is refused instead.
"""

import ipaddress
import logging
import os
import sys

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.contract.schemas import Problem
from app.contract.settings import Settings
from app.server.http import UVICORN_LIMITS
from app.server.problems import problem_response

log = logging.getLogger(__name__)


class WeakWallError(RuntimeError):
    """The wall is weakened and the server was asked to listen beyond loopback."""


def missing_layers(layers: dict[str, str]) -> dict[str, str]:
    return {layer: state for layer, state in layers.items() if state != "present"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def uvicorn_host(argv: list[str] | None = None) -> str | None:
    """The address uvicorn's command line asks for: its `--host` (127.0.0.1 by default),
    "unix" for `--uds`, "fd" for an inherited socket; None when not run by uvicorn's CLI."""
    argv = sys.argv if argv is None else argv
    if not argv or os.path.basename(argv[0]) not in ("uvicorn", "__main__.py"):
        return None
    if os.path.basename(argv[0]) == "__main__.py" and "uvicorn" not in argv[0]:
        return None
    host = os.environ.get("UVICORN_HOST", "127.0.0.1")
    for index, argument in enumerate(argv):
        name, _, value = argument.partition("=")
        if name in ("--host", "--uds", "--fd") and not value and index + 1 < len(argv):
            value = argv[index + 1]
        if name == "--host":
            host = value
        elif name == "--uds":
            return "unix"
        elif name == "--fd":
            return "fd"
    return host


def check_http_limits(argv: list[str] | None = None) -> None:
    """Warn when uvicorn's command line lacks the bounded request heads of `make serve`."""
    argv = sys.argv if argv is None else argv
    if uvicorn_host(argv) is not None and "app.server.http:BoundedHttp" not in " ".join(argv):
        log.warning(
            "uvicorn reads request heads of any length: start it as `agx serve` does, with %s",
            " ".join(UVICORN_LIMITS),
        )


def check_listening(layers: dict[str, str], allow_weak: bool, host: str | None = None) -> None:
    """Log every missing layer; raise WeakWallError if the server may not listen where it
    was asked to. `host` defaults to uvicorn's command line."""
    missing = missing_layers(layers)
    for layer, state in missing.items():
        log.critical("SANDBOX WALL WEAKENED: the kernel refused %s (%s)", layer, state)
    if not missing:
        return
    host = uvicorn_host() if host is None else host
    if host is None or host == "unix" or is_loopback(host) or allow_weak:
        return
    raise WeakWallError(
        f"refusing to listen on {host}: the sandbox wall lacks {', '.join(missing)}. "
        "Listen on 127.0.0.1 only, or set AGX_ALLOW_WEAK_SANDBOX=1 to accept the weaker wall."
    )


class ListeningGuardMiddleware:
    """With a weakened wall, refuse (503) requests that reached a non-loopback address."""

    def __init__(self, app: ASGIApp, allow_weak: bool) -> None:
        self.app = app
        self.allow_weak = allow_weak

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.allow_weak:
            state = scope["app"].state
            server = scope.get("server")
            host = str(server[0]) if server else "unix"
            weak = missing_layers(getattr(state, "wall", {}))
            if weak and server is not None and server[1] is not None and not is_loopback(host):
                response = problem_response(
                    Problem(
                        type="/problems/weak-sandbox",
                        title="Sandbox weakened",
                        status=503,
                        detail="This server's kernel refused part of the sandbox "
                        f"({', '.join(weak)}), so it answers on loopback only.",
                    )
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_listening_guard(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(ListeningGuardMiddleware, allow_weak=settings.allow_weak_sandbox)
