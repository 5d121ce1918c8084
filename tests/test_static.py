"""The page's static parts: examples are the seed's lessons verbatim, the template holds no
inline script or style (the CSP would refuse them), and vendored code is accounted for."""

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.seed_cells import (
    ACCUMULATION_LESSON,
    CHAIN_RULE_LESSON,
    CLASSIFIER_AUTOGRAD_LESSON,
    CLASSIFIER_MANUAL_LESSON,
)

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
EXAMPLES = {
    example["id"]: example for example in json.loads((STATIC / "examples.json").read_text())
}


@pytest.mark.parametrize(
    ("example_id", "lesson"),
    [
        ("chain-rule", CHAIN_RULE_LESSON),
        ("classifier-by-hand", CLASSIFIER_MANUAL_LESSON),
        ("classifier-autograd", CLASSIFIER_AUTOGRAD_LESSON),
        ("accumulation", ACCUMULATION_LESSON),
    ],
)
def test_seed_examples_are_the_notebook_verbatim(example_id: str, lesson: str) -> None:
    assert EXAMPLES[example_id]["code"] == lesson


def test_the_chain_rule_comes_first() -> None:
    assert next(iter(EXAMPLES)) == "chain-rule"


class InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "style" or "style" in names or any(name.startswith("on") for name in names):
            self.found.append(tag)
        if tag == "script" and "src" not in names:
            self.found.append(tag)


def test_template_has_no_inline_script_or_style() -> None:
    finder = InlineFinder()
    finder.feed((ROOT / "templates" / "index.html").read_text())
    assert finder.found == []


def test_vendored_code_has_licence_and_source() -> None:
    vendor = STATIC / "vendor"
    readme = (vendor / "README.md").read_text()
    folders = [path for path in vendor.iterdir() if path.is_dir()]
    assert folders
    for folder in folders:
        assert (folder / "LICENSE").is_file(), folder
        assert f"`{folder.name}/`" in readme, folder
