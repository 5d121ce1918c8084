"""`agx`, run as users run it: a subprocess, its exit status, its output and its files."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from app.server.http import UVICORN_OPTIONS
from tests.security.live_server import free_port
from tests.seed_cells import CHAIN_RULE_LESSON, CLASSIFIER_AUTOGRAD_LESSON

AGX = Path(sys.executable).parent / "agx"
REFUSED = "import torch\nx = torch.ones(2)\nimport os\n"


def agx(*arguments: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AGX), *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "lesson.py"
    path.write_text(CLASSIFIER_AUTOGRAD_LESSON)
    return path


def test_draw_locally_writes_the_svg_beside_the_name(program: Path) -> None:
    """No -o: the program's name with .svg; the program's output on stdout."""
    done = agx("draw", program.name, cwd=program.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "tensor(6.6918)\ntensor(0.9988)\n"
    svg = ElementTree.parse(program.with_suffix(".svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"


def test_draw_locally_from_stdin(tmp_path: Path) -> None:
    done = agx(
        "draw", "-", "-o", "chain.json", "--output", "y", cwd=tmp_path, stdin=CHAIN_RULE_LESSON
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads((tmp_path / "chain.json").read_text())
    assert answer["root_name"] == "y"
    assert round(answer["variables"]["x"]["grad"], 4) == -5.4668


def test_refused_locally_prints_the_position_as_compilers_do(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(REFUSED)
    done = agx("draw", "bad.py", "-o", "bad.svg", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("bad.py:3:8: error: Not allowed: ")
    assert not (tmp_path / "bad.svg").exists()


@pytest.mark.parametrize("suffix", [".svg", ".png", ".dot", ".json"])
def test_every_suffix_with_a_server(live_server: str, program: Path, suffix: str) -> None:
    target = program.parent / f"out{suffix}"
    done = agx("draw", str(program), "-o", target.name, "--server", live_server, cwd=program.parent)
    assert done.returncode == 0, done.stderr
    data = target.read_bytes()
    if suffix == ".svg":
        assert ElementTree.fromstring(data).tag.endswith("svg")
    elif suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif suffix == ".dot":
        assert data.startswith(b"digraph")
    else:
        assert json.loads(data)["variables"]["w"]["grad"] == pytest.approx(6.6918, abs=1e-4)


def test_stdin_with_a_server(live_server: str, tmp_path: Path) -> None:
    done = agx("draw", "-", "--server", live_server, cwd=tmp_path, stdin=CHAIN_RULE_LESSON)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "graph.svg").read_text().startswith("<svg")


def test_refused_with_a_server(live_server: str, tmp_path: Path) -> None:
    done = agx("draw", "-", "--server", live_server, cwd=tmp_path, stdin="import torch\nx = (\n")
    assert done.returncode == 1
    assert done.stderr.startswith("<stdin>:2:")
    assert ": error: Syntax error: " in done.stderr


def test_warnings_go_to_stderr(live_server: str, tmp_path: Path) -> None:
    """A program with no graph still draws (an empty graph), and says why on stderr."""
    done = agx("draw", "-", "--server", live_server, cwd=tmp_path, stdin="x = 1\nprint(x)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    assert done.stderr.startswith("<stdin>: warning: ")


def test_unreachable_server(tmp_path: Path, program: Path) -> None:
    done = agx("draw", str(program), "--server", "http://127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: Server unreachable" in done.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "usage: agx"),
        (("draw",), "the following arguments are required: program"),
        (("draw", "missing.py"), "cannot read missing.py"),
        (("draw", "lesson.py", "-o", "graph.pdf"), "suffix must be one of .svg, .png, .dot, .json"),
        (("draw", "lesson.py", "--bogus"), "unrecognized arguments: --bogus"),
        (("serve", "--port", "many"), "invalid int value"),
        (("draw", "lesson.py", "--server", "localhost:8000"), "is not a server's address"),
    ],
)
def test_usage_errors(program: Path, arguments: tuple[str, ...], message: str) -> None:
    done = agx(*arguments, cwd=program.parent)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (program.parent / "graph.pdf").exists()


def test_serve_runs_uvicorn_as_make_serve_does(tmp_path: Path) -> None:
    """`agx serve` becomes uvicorn (same process) with the HTTP limits of app.server.http."""
    port = free_port()
    process = subprocess.Popen(
        [str(AGX), "serve", "--port", str(port)], cwd=tmp_path, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("agx serve did not answer /healthz")
        command = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        arguments = [argument.decode() for argument in command if argument]
        assert arguments[1:4] == ["-m", "uvicorn", "app.main:app"]
        assert " ".join(UVICORN_OPTIONS) in " ".join(arguments)
        assert ["--host", "127.0.0.1", "--port", str(port)] == arguments[4:8]
    finally:
        process.terminate()
        process.wait(60)
