"""Draw a program's autograd graph from Python: a notebook, a script, or `agx` (app.cli).

    from app.client import graph

    result = graph(code)        # in Jupyter, shows the drawing and the variables table
    result.variables["x"].grad  # the API's answer, typed
    result.save("graph.png")    # .svg, .png, .dot or .json, by the suffix

With `server=None` the program goes through the API's own pipeline
(`app.server.routes.graph.answer`) without HTTP, in job processes of this Python process
(started on first use, kept until it exits) behind the same walls and under the same limits
as the server's (`Settings`, from the `AGX_` variables). With a URL it is posted to that
server's /api/graph. Either way the answer is the API's, gradient check included, and a
program that is refused or fails raises GraphError with the problem's title, detail, line and
column.
"""

import atexit
import json
import logging
import threading
from contextlib import ExitStack
from html import escape
from pathlib import Path
from typing import Any, Protocol

import httpx
from anyio.from_thread import start_blocking_portal
from pydantic import ValidationError

from app.contract.errors import ProgramError
from app.contract.schemas import GraphRequest, GraphResponse, Problem, VariableInfo
from app.contract.settings import Settings
from app.contract.text import format_tensor
from app.server.png import PngError, render_png
from app.server.problems import BUSY, PROBLEM_TYPE, program_problem, validation_problem
from app.server.routes.graph import answer
from app.server.services import Services, running
from app.server.workers import SaturatedError

log = logging.getLogger(__name__)
# The client asks for the whole answer at once: the gradient check too.
INCLUDE = ["gradcheck"]
# A request waits for a worker (max_wait_s), runs (job_timeout_s) and is drawn
# (render_timeout_s): well under this with the default settings.
TIMEOUT_S = 60.0
SUFFIXES = (".svg", ".png", ".dot", ".json")


class GraphError(Exception):
    """The program was refused or failed, or the server could not answer: an RFC 9457
    problem, with the position in the program (1-based line and column) where there is one.
    `status` is the HTTP status the API answers with; None when no server answered."""

    def __init__(
        self,
        title: str,
        detail: str,
        line: int | None = None,
        column: int | None = None,
        status: int | None = None,
        type: str = "about:blank",
    ) -> None:
        super().__init__(title, detail, line, column)
        self.title = title
        self.detail = detail
        self.line = line
        self.column = column
        self.status = status
        self.type = type

    @classmethod
    def of(cls, problem: Problem) -> "GraphError":
        return cls(
            problem.title,
            problem.detail,
            problem.line,
            problem.column,
            problem.status,
            problem.type,
        )

    def __str__(self) -> str:
        where = f"{self.line}:{self.column}: " if self.line is not None else ""
        return f"{where}{self.title}: {self.detail}"


class GraphResult:
    """One answer of the API (`json`), typed (`response`), with its drawing."""

    def __init__(self, body: bytes) -> None:
        self.json: dict[str, Any] = json.loads(body)
        self.response = GraphResponse.model_validate(self.json)

    @property
    def svg(self) -> str | None:
        """The drawing; None when Graphviz could not lay it out in time (see `warnings`)."""
        return self.response.svg

    @property
    def dot(self) -> str:
        """The drawing's Graphviz source."""
        return self.response.dot

    @property
    def variables(self) -> dict[str, VariableInfo]:
        """Every name bound to a tensor when the program ended: value, .grad, shape, ..."""
        return self.response.variables

    @property
    def root_name(self) -> str | None:
        """The variable the graph was drawn and backpropagated from."""
        return self.response.root_name

    @property
    def stdout(self) -> str:
        """What the program printed."""
        return self.response.stdout

    @property
    def warnings(self) -> list[str]:
        return self.response.warnings

    def png(self) -> bytes:
        """The drawing as PNG (Graphviz's `dot` on this machine)."""
        try:
            return render_png(self.dot)
        except PngError as error:
            raise GraphError("Drawing failed", str(error)) from None

    def save(self, path: str | Path) -> Path:
        """Write the drawing (.svg, .png), its source (.dot) or the whole answer (.json),
        chosen by the suffix of `path`."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".svg":
            path.write_text(self._drawn_svg(), encoding="utf-8")
        elif suffix == ".png":
            path.write_bytes(self.png())
        elif suffix == ".dot":
            path.write_text(self.dot, encoding="utf-8")
        elif suffix == ".json":
            path.write_text(json.dumps(self.json, indent=2, ensure_ascii=False), encoding="utf-8")
        else:
            raise ValueError(
                f"cannot save as {suffix or 'a name without a suffix'}: use one of "
                f"{', '.join(SUFFIXES)}"
            )
        return path

    def _drawn_svg(self) -> str:
        if self.svg is None:
            raise GraphError(
                "Drawing failed",
                "Graphviz could not lay this graph out in time; the .dot and .json still have "
                "every node and gradient",
            )
        return self.svg

    def _repr_html_(self) -> str:
        """Jupyter's view: the drawing, the variables table, the printed output and the
        warnings; plain HTML, no script."""
        if self.svg is not None:
            drawing = f'<div style="max-width:100%;overflow:auto">{self.svg}</div>'
        else:
            drawing = "<p><strong>No drawing:</strong> Graphviz ran out of time.</p>"
        parts = [drawing, self._variables_html()]
        if self.stdout:
            parts.append(
                f"<details open><summary>Printed output</summary>"
                f"<pre>{escape(self.stdout)}</pre></details>"
            )
        if self.warnings:
            items = "".join(f"<li>{escape(warning)}</li>" for warning in self.warnings)
            parts.append(f'<ul aria-label="Warnings">{items}</ul>')
        return f'<div class="agx-graph">{"".join(parts)}</div>'

    def _variables_html(self) -> str:
        head = "".join(
            f'<th scope="col">{name}</th>'
            for name in ("name", "value", "grad", "shape", "dtype", "grad_fn")
        )
        rows = []
        for name, info in self.variables.items():
            grad_fn = info.grad_fn or ("leaf" if info.is_leaf else "")
            if info.requires_grad and info.is_leaf:
                grad_fn = "leaf, requires_grad"
            cells = (
                format_tensor(info.value),
                format_tensor(info.grad),
                f"[{', '.join(map(str, info.shape))}]",
                info.dtype,
                grad_fn,
            )
            rows.append(
                f'<tr><th scope="row"><code>{escape(name)}</code></th>'
                + "".join(f"<td>{escape(cell)}</td>" for cell in cells)
                + "</tr>"
            )
        root = self.root_name
        drawn_from = f" (graph drawn from <code>{escape(root)}</code>)" if root else ""
        return (
            f"<table><caption>Variables{drawn_from}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def __repr__(self) -> str:
        return (
            f"GraphResult(root={self.root_name!r}, nodes={len(self.response.nodes)}, "
            f"variables={list(self.variables)})"
        )


class Backend(Protocol):
    def answer(self, code: str, output: str | None) -> bytes:
        """The JSON of a GraphResponse; raises GraphError."""
        ...

    def close(self) -> None: ...


class LocalPipeline:
    """The API's pipeline in this process: its services run on an event loop of their own,
    in a thread, so that the client works the same from a script and from Jupyter (whose
    own loop is already running)."""

    def __init__(self, settings: Settings) -> None:
        self._stack = ExitStack()
        try:
            self._portal = self._stack.enter_context(start_blocking_portal())
            self.services: Services = self._stack.enter_context(
                self._portal.wrap_async_context_manager(running(settings))
            )
        except BaseException:
            self._stack.close()
            raise
        weak = {layer: state for layer, state in self.services.wall.items() if state != "present"}
        for layer, state in weak.items():
            log.warning("sandbox wall weakened: the kernel refused %s (%s)", layer, state)

    def answer(self, code: str, output: str | None) -> bytes:
        try:
            request = GraphRequest.model_validate(
                {"code": code, "output": output, "include": INCLUDE}
            )
            running = self._portal.start_task_soon(answer, request, self.services)
            try:
                return running.result().body
            except BaseException:
                # Jupyter's interrupt (KeyboardInterrupt) returns at once and cancels the
                # job, as when a client of the server goes away: its process and slot are
                # let go of by the job's time limit at the latest.
                running.cancel()
                raise
        except ValidationError as error:
            raise GraphError.of(validation_problem(error.errors())) from None
        except ProgramError as error:
            raise GraphError.of(program_problem(error)) from None
        except SaturatedError:
            raise GraphError.of(BUSY) from None

    def close(self) -> None:
        self._stack.close()


class RemoteAPI:
    """A server's POST /api/graph."""

    def __init__(self, server: str, timeout_s: float) -> None:
        """Raises ValueError for an address that is not an http(s) URL."""
        try:
            url = httpx.URL(server)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise ValueError(
                f"{server!r} is not a server's address: give its URL, e.g. http://127.0.0.1:8000"
            )
        self.server = server.rstrip("/")
        self.http = httpx.Client(
            base_url=self.server, timeout=timeout_s, headers={"user-agent": "agx"}
        )

    def answer(self, code: str, output: str | None) -> bytes:
        try:
            reply = self.http.post(
                "/api/graph", json={"code": code, "output": output, "include": INCLUDE}
            )
        except httpx.HTTPError as error:
            raise GraphError(
                "Server unreachable", f"no answer from {self.server}: {error}"
            ) from None
        if reply.is_success:
            return reply.content
        problem = _problem(reply)
        if problem is not None:
            raise GraphError.of(problem)
        raise GraphError(
            reply.reason_phrase or "Error",
            f"{self.server} answered {reply.status_code}: {reply.text[:200]}",
            status=reply.status_code,
        )

    def close(self) -> None:
        self.http.close()


def _problem(reply: httpx.Response) -> Problem | None:
    """The problem a reply describes, if it is one (a proxy's error page is not)."""
    if not reply.headers.get("content-type", "").startswith(PROBLEM_TYPE):
        return None
    try:
        return Problem.model_validate_json(reply.content)
    except ValidationError:
        return None


class Client:
    """Draws programs, locally (`server=None`) or with a server's API. Keep one for many
    programs: the local pipeline starts its job processes once, a remote one reuses its
    connection. A context manager; `close` stops what it started."""

    def __init__(
        self,
        server: str | None = None,
        *,
        settings: Settings | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.server = server
        self.backend: Backend = (
            LocalPipeline(settings or Settings())
            if server is None
            else RemoteAPI(server, timeout_s)
        )

    def graph(self, code: str, output: str | None = None) -> GraphResult:
        """Run `code`, draw the graph of `output` (default: what backward() was called on,
        else the last tensor assigned), backpropagate; raises GraphError."""
        return GraphResult(self.backend.answer(code, output))

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_shared: dict[str | None, Client] = {}
_shared_lock = threading.Lock()


def graph(code: str, output: str | None = None, server: str | None = None) -> GraphResult:
    """Run `code` and draw its autograd graph, with a Client kept for `server` (None: the
    local pipeline) until this Python process exits. Raises GraphError."""
    with _shared_lock:
        client = _shared.get(server)
        if client is None:
            client = _shared[server] = Client(server)
    return client.graph(code, output)


@atexit.register
def _close_shared() -> None:
    with _shared_lock:
        for client in _shared.values():
            client.close()
        _shared.clear()
