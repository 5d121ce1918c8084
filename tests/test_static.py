"""The page's static parts: one examples file (the seed's cells verbatim where they are used,
lessons numbered in notebook order), the template holds no inline script or style (the CSP
would refuse them), and vendored code is accounted for."""

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.examples import EXAMPLE_LIST, EXAMPLES
from tests.seed_cells import (
    CHAIN_RULE_LESSON,
    CLASSIFIER_AUTOGRAD_LESSON,
    CLASSIFIER_MANUAL_LESSON,
    WHOLE_NOTEBOOK,
)

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
FIELDS = {"id", "group", "title", "code", "output", "lesson", "error"}


@pytest.mark.parametrize(
    ("example_id", "lesson"),
    [
        ("chain-rule", CHAIN_RULE_LESSON),
        ("classifier-by-hand", CLASSIFIER_MANUAL_LESSON),
        ("classifier-autograd", CLASSIFIER_AUTOGRAD_LESSON),
        ("whole-notebook", WHOLE_NOTEBOOK),
    ],
)
def test_seed_examples_are_the_notebook_verbatim(example_id: str, lesson: str) -> None:
    assert EXAMPLES[example_id]["code"] == lesson


def test_lessons_come_first_numbered_in_notebook_order() -> None:
    assert list(dict.fromkeys(e["group"] for e in EXAMPLE_LIST)) == [
        "Seed notebook lessons",
        "More examples",
    ]
    lessons = [e for e in EXAMPLE_LIST if e["group"] == "Seed notebook lessons"]
    assert [e["title"].split(".")[0] for e in lessons] == [str(n) for n in range(1, 12)]
    assert all(e.get("lesson") for e in lessons)


def test_examples_have_only_known_fields() -> None:
    assert len(EXAMPLES) == len(EXAMPLE_LIST)
    for example in EXAMPLE_LIST:
        assert {"id", "group", "title", "code"} <= set(example) <= FIELDS, example["id"]


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


@pytest.mark.parametrize("template", ["index.html", "docs.html"])
def test_template_has_no_inline_script_or_style(template: str) -> None:
    finder = InlineFinder()
    finder.feed((ROOT / "templates" / template).read_text())
    assert finder.found == []


def test_vendored_code_has_licence_and_source() -> None:
    vendor = STATIC / "vendor"
    readme = (vendor / "README.md").read_text()
    folders = [path for path in vendor.iterdir() if path.is_dir()]
    assert folders
    for folder in folders:
        assert (folder / "LICENSE").is_file(), folder
        assert f"`{folder.name}/`" in readme, folder
