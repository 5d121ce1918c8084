"""The graph's text is drawn in the font the page serves (Liberation Sans, the metric twin of
Helvetica whose metrics Graphviz lays text out with), on the page and in the PNG export, so
it fits its boxes whatever fonts the machine has: these pass with only DejaVu installed."""

import base64
from pathlib import Path

from playwright.sync_api import Page

from tests.browser.pages import (
    CHAIN_RULE_TITLE,
    CLASSIFIER_TITLE,
    NARROW,
    SERVED_FONT,
    assert_drawn_in_served_font,
    misplaced_node_text,
    open_page,
    pick_and_run,
)

# Share of a PNG's pixels that are not white, and its size.
PNG_INK = """async (url) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i] < 200 || pixels[i + 1] < 200 || pixels[i + 2] < 200) inked += 1;
  }
  return { width: canvas.width, height: canvas.height, inked: inked / (pixels.length / 4) };
}"""

# The width of a run of text as the PNG export draws it (through the export's own pngBlob, in
# the family list the graph's SVG names), and as the page draws it in the served font: equal
# only if the PNG's text is in the served font too. Liberation Sans's "m" is 0.83 em wide,
# DejaVu Sans's 0.97 em, so a fallback would be 17% wider.
PNG_TEXT_WIDTHS = """async (family) => {
  const { pngBlob } = await import("/static/export.js");
  const text = "mmmmmmmmmm";
  const inkWidth = (canvas) => {
    const { width, height } = canvas;
    const { data } = canvas.getContext("2d").getImageData(0, 0, width, height);
    let left = width, right = -1;
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        if (data[(y * width + x) * 4] < 128) {
          left = Math.min(left, x);
          right = Math.max(right, x);
        }
      }
    }
    return right - left + 1;
  };
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40">`
    + `<text x="10" y="30" font-family="${family}" font-size="20">${text}</text></svg>`;
  const bitmap = await createImageBitmap(await pngBlob({ svg }));
  const exported = new OffscreenCanvas(bitmap.width, bitmap.height);
  exported.getContext("2d").drawImage(bitmap, 0, 0);
  const page = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = page.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, page.width, page.height);
  context.fillStyle = "#000000";
  context.font = `${20 * bitmap.width / 400}px "Liberation Sans"`;
  context.fillText(text, 20, 60);
  return { exported: inkWidth(exported), page: inkWidth(page) };
}"""


def test_text_fits_its_boxes_at_1024(page: Page, live_server: str) -> None:
    open_page(page, live_server, NARROW)
    for title in (CHAIN_RULE_TITLE, CLASSIFIER_TITLE):
        pick_and_run(page, title)
        assert_drawn_in_served_font(page)
        assert misplaced_node_text(page) == []


def test_png_export_draws_in_the_served_font(page: Page, live_server: str, artifacts: Path) -> None:
    open_page(page, live_server, NARROW)
    pick_and_run(page, CHAIN_RULE_TITLE)
    assert_drawn_in_served_font(page)
    with page.expect_download() as info:
        page.get_by_role("group", name="Export").get_by_role("button", name="PNG").click()
    saved = artifacts / "export-chain-rule.png"
    info.value.save_as(saved)
    png = saved.read_bytes()
    assert png.startswith(b"\x89PNG")
    drawn = page.evaluate(PNG_INK, "data:image/png;base64," + base64.b64encode(png).decode())
    assert drawn["width"] > 200
    assert drawn["height"] > 200
    assert drawn["inked"] > 0.05  # boxes, fills and text, not a blank canvas

    family = page.locator("#graph text").first.get_attribute("font-family")
    assert family is not None
    assert family.startswith(f"'{SERVED_FONT}'")
    widths = page.evaluate(PNG_TEXT_WIDTHS, family)
    assert abs(widths["exported"] - widths["page"]) <= 0.02 * widths["page"], widths
