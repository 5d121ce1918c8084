"""PNG from a graph's DOT source, with Graphviz's own `dot -Tpng`.

The server draws SVG only; a PNG is for the client (`app.client`, `agx draw -o graph.png`) on
the user's machine. Graphviz's cairo renderer lays the graph out again with the font it
draws the text in (the machine's sans-serif, through fontconfig), so the text fits its boxes
whatever fonts the machine has.
"""

import shutil
import subprocess

# Twice the default 72 dpi: sharp on a high-density screen and in slides.
DPI = 144


class PngError(Exception):
    """Graphviz could not make the PNG (missing, refused the DOT, or ran out of time)."""


def render_png(dot: str, timeout_s: float = 30.0) -> bytes:
    """The PNG of `dot`; raises PngError."""
    dot_program = shutil.which("dot")
    if dot_program is None:
        raise PngError("Graphviz's `dot` is not installed (Debian: apt-get install graphviz)")
    try:
        done = subprocess.run(  # noqa: S603 - a fixed command; the DOT goes to its stdin
            [dot_program, "-Tpng", f"-Gdpi={DPI}"],
            input=dot.encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PngError(f"Graphviz needed more than {timeout_s:g} s to draw the PNG") from None
    if done.returncode != 0 or not done.stdout.startswith(b"\x89PNG"):
        message = done.stderr.decode(errors="replace").strip() or f"exit {done.returncode}"
        raise PngError(f"Graphviz could not draw the PNG: {message}")
    return done.stdout
