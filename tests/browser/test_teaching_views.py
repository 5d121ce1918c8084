"""static/teaching.js in real Chromium, on the served page, before the page wires it in:
the module is imported into the page and given a real API answer, as the page will."""

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.programs import PROGRAMS

# What the page will do: fetch an answer, show its SVG, hand both to renderTeaching.
MOUNT = """async ({ code, lessonsOnly }) => {
  const { LESSONS } = await import("/static/lessons.js");
  if (lessonsOnly) return LESSONS.map((lesson) => lesson.id);
  const { renderTeaching } = await import("/static/teaching.js");
  const response = await fetch("/api/graph", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
  });
  const answer = await response.json();
  const graph = document.createElement("div");
  graph.id = "teaching-graph";
  const svg = new DOMParser().parseFromString(answer.svg, "image/svg+xml").documentElement;
  graph.append(document.importNode(svg, true));
  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = "/static/teaching.css";
  document.head.append(style);
  const container = document.createElement("div");
  container.id = "teaching";
  document.body.append(graph, container);
  window.teachingView = renderTeaching(answer, { container, graph });
  return answer.nodes.length;
}"""


def _mount(page: Page, live_server: str, code: str) -> None:
    page.goto(live_server)
    page.evaluate(MOUNT, {"code": code, "lessonsOnly": False})


def test_step_through_backward_lights_nodes_in_order(page: Page, live_server: str) -> None:
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    _mount(page, live_server, PROGRAMS["seed_chain_rule"])
    view = page.locator("#teaching")
    step = view.get_by_role("button", name="Step")
    status = view.locator(".teaching-status")
    step.click()
    expect(status).to_contain_text("Step 1 of 3: z (SinBackward0) receives the gradient 1")
    expect(page.locator("#teaching-graph #node-0")).to_have_class(
        "node node-root teaching-current teaching-done"
    )
    step.click()
    expect(status).to_contain_text("y (PowBackward0) receives the gradient -0.9111")
    step.click()
    expect(status).to_contain_text("x (AccumulateGrad) receives the gradient -5.4668")
    expect(status).to_contain_text("Backward is done")
    expect(step).to_be_disabled()
    view.get_by_role("button", name="Play").click()
    expect(status).to_contain_text("Step 1 of 3")
    view.get_by_role("button", name="Pause").click()
    expect(view.get_by_role("button", name="Play")).to_be_enabled()
    assert errors == []


def test_passes_check_and_explain(page: Page, live_server: str, artifacts: Path) -> None:
    _mount(page, live_server, PROGRAMS["accumulate_twice"])
    passes = page.locator("#teaching .teaching-pass")
    expect(passes).to_have_count(2)
    expect(passes.nth(0)).to_contain_text("4")
    expect(passes.nth(1)).to_contain_text("8")
    expect(page.get_by_role("table", name="Gradient check per leaf")).to_contain_text("✓ agrees")
    page.evaluate("() => window.teachingView.destroy()")

    _mount(page, live_server, PROGRAMS["seed_chain_rule"])
    page.locator("#teaching").get_by_role("button", name="Step").click()
    page.get_by_text("Explain the gradient of x").click()
    expect(page.locator("#teaching .teaching-formula")).to_have_text(
        "dz/dx = cos(y) · 2x = -0.9111 · 6 = -5.4668"
    )
    page.screenshot(path=str(artifacts / "teaching.png"), full_page=True)


def test_cut_tensors_are_listed(page: Page, live_server: str) -> None:
    _mount(page, live_server, PROGRAMS["no_grad_constant"])
    expect(page.locator("#teaching .teaching-cut")).to_contain_text("k: Constant")
    expect(page.locator("#teaching-graph .node-const")).to_have_count(1)


def test_lessons_module_loads(page: Page, live_server: str) -> None:
    page.goto(live_server)
    ids = page.evaluate(MOUNT, {"code": "", "lessonsOnly": True})
    assert "gradients-off" in ids
