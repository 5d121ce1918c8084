"""`agx`: draw a program's autograd graph from the command line, or start the server.

    agx draw prog.py -o graph.svg       # also .png, .dot, .json; `-` reads the program from stdin
    agx draw prog.py --output loss      # the graph of another variable
    agx draw prog.py --server URL       # with a server's API instead of the local pipeline
    agx serve --port 8000               # the server, as `make serve` runs it

`draw` prints what the program printed, then its warnings on stderr. Exit status: 0 drawn,
1 not drawn (the program was refused or failed, reported as compilers do,
`prog.py:3:5: error: ...`; or the server did not answer), 2 a usage error.
"""

import argparse
import os
import sys
from importlib.metadata import version
from pathlib import Path

from app.client import SUFFIXES, Client, GraphError
from app.server.http import UVICORN_OPTIONS

DRAWN, NOT_DRAWN, USAGE = 0, 1, 2
STDIN = "-"
DISTRIBUTION = "autograd-explorer"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    arguments = parser.parse_args(argv)  # exits with USAGE on a usage error
    if arguments.command == "draw":
        return draw(parser, arguments)
    if arguments.command == "serve":
        serve(arguments.host, arguments.port)
    parser.print_help(sys.stderr)
    return USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agx", description="Draw the autograd graph of a PyTorch program."
    )
    parser.add_argument("--version", action="version", version=f"agx {version(DISTRIBUTION)}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    drawing = commands.add_parser(
        "draw",
        help="run a program and draw its autograd graph",
        description="Run a PyTorch program in the sandbox, backpropagate, and draw its "
        "autograd graph with every gradient.",
    )
    drawing.add_argument("program", help="the program's file, or - to read it from stdin")
    drawing.add_argument(
        "-o",
        dest="file",
        metavar="FILE",
        help=f"where to write: {', '.join(SUFFIXES)} by its suffix "
        "(default: the program's name with .svg; graph.svg for stdin)",
    )
    drawing.add_argument(
        "--output",
        metavar="NAME",
        help="the variable to draw the graph from and backpropagate (default: what "
        "backward() was called on, else the last tensor assigned)",
    )
    drawing.add_argument(
        "--server",
        metavar="URL",
        help="a server's address (http://host:port) to use its API, instead of running the "
        "program here",
    )
    serving = commands.add_parser(
        "serve",
        help="start the web app and API",
        description="Start the server as `make serve` does (settings from AGX_ variables).",
    )
    serving.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    serving.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    return parser


def draw(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    source = "<stdin>" if arguments.program == STDIN else arguments.program
    default = "graph.svg" if arguments.program == STDIN else Path(source).with_suffix(".svg").name
    target = Path(arguments.file or default)
    if target.suffix.lower() not in SUFFIXES:
        parser.error(f"-o {target}: the file's suffix must be one of {', '.join(SUFFIXES)}")
    try:
        code = sys.stdin.read() if arguments.program == STDIN else Path(source).read_text()
    except (OSError, UnicodeDecodeError) as error:
        parser.error(f"cannot read {source}: {error}")
    try:
        client = Client(arguments.server)
    except ValueError as error:
        parser.error(f"--server: {error}")
    try:
        with client:
            result = client.graph(code, arguments.output)
            print(result.stdout, end="", flush=True)
            for warning in result.warnings:
                print(f"{source}: warning: {warning}", file=sys.stderr)
            result.save(target)
    except GraphError as error:
        where = f"{error.line}:{error.column}:" if error.line is not None else ""
        print(f"{source}:{where} error: {error.title}: {error.detail}", file=sys.stderr)
        return NOT_DRAWN
    except OSError as error:
        print(f"agx: error: cannot write {target}: {error}", file=sys.stderr)
        return NOT_DRAWN
    return DRAWN


def serve(host: str, port: int) -> None:
    """Replace this process by uvicorn's command line, so that the server checks where it
    listens and its HTTP limits exactly as it does for `uvicorn app.main:app`
    (app.server.listening)."""
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", host]
    os.execv(sys.executable, [*command, "--port", str(port), *UVICORN_OPTIONS])  # noqa: S606


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
