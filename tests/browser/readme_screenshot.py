"""The README's screenshot: the page as it opens (the chain rule, run) at 1366 px, with a box
selected so the Details panel shows how its gradient was made.

    .venv/bin/python -m tests.browser.readme_screenshot [docs/screenshot.png]

Starts its own server (as the browser tests do) and drives Debian's Chromium. The PNG is
written with a palette of the page's 256 commonest colours (the page has few; the others are
the edges of antialiased text), a third of the size of Chromium's true-colour PNG.
"""

import struct
import sys
import zlib
from collections import Counter
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.server import running_server
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.pages import graph_node

ROOT = Path(__file__).resolve().parents[2]
PALETTE_SIZE = 256
Pixel = bytes  # r, g, b


def take() -> bytes:
    """Chromium's screenshot of the page, a true-colour PNG."""
    with running_server() as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(server.url)
        expect(page.get_by_role("status").first).to_contain_text("Done", timeout=30_000)
        graph_node(page, "x").first.click()
        expect(page.locator("#details-body h3")).to_be_visible()
        page.wait_for_timeout(500)  # the pan that brings the selected box into view
        shot = page.screenshot()
        browser.close()
    return shot


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _pixels(png: bytes) -> tuple[int, int, list[list[Pixel]]]:
    """The rows of an 8-bit RGB or RGBA PNG's pixels, as (r, g, b) bytes."""
    chunks: list[tuple[bytes, bytes]] = []
    position = 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        chunks.append((png[position + 4 : position + 8], png[position + 8 : position + 8 + length]))
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    if depth != 8 or colour not in (2, 6):
        raise ValueError("not an 8-bit RGB or RGBA PNG")
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * step
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            corner = previous[i - step] if i >= step else 0
            line[i] = (
                line[i]
                + (
                    0,
                    left,
                    previous[i],
                    (left + previous[i]) // 2,
                    _paeth(left, previous[i], corner),
                )[kind]
            ) & 255
        rows.append([bytes(line[i : i + 3]) for i in range(0, stride, step)])
        previous = line
    return width, height, rows


def palette_png(png: bytes) -> bytes:
    """The image with each pixel in the nearest of its PALETTE_SIZE commonest colours."""
    width, height, rows = _pixels(png)
    counts = Counter(pixel for row in rows for pixel in row)
    palette = [colour for colour, _ in counts.most_common(PALETTE_SIZE)]
    index = {colour: number for number, colour in enumerate(palette)}
    for colour in counts:
        if colour not in index:
            index[colour] = min(
                range(len(palette)),
                key=lambda n: sum((a - b) ** 2 for a, b in zip(colour, palette[n], strict=True)),
            )
    data = b"".join(b"\x00" + bytes(index[pixel] for pixel in row) for row in rows)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", b"".join(palette))
        + chunk(b"IDAT", zlib.compress(data, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png"
    target.write_bytes(palette_png(take()))
