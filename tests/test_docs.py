"""The README and docs/: a quick start of two commands, links that lead somewhere, and no
issue numbers anywhere in the repository (the code and documents say how things are)."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
# Written on other branches at the same time; remove once they are merged.
WRITTEN_ELSEWHERE = {"docs/self-hosting.md", "docs/client.md", "docs/performance.md"}
ISSUE_NUMBER = re.compile(
    r"\b(?:issues?|PR|pull request|fix(?:es|ed)?|close[sd]?)[ -]?#?\d+\b|\(#\d+\)", re.IGNORECASE
)


def test_quick_start_is_two_commands() -> None:
    section = README.read_text().split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    assert commands == ["make serve", "make test"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_lead_to_files(document: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
        if "://" in target:
            continue
        path = (document.parent / target).resolve()
        relative = path.relative_to(ROOT).as_posix()
        assert path.exists() or relative in WRITTEN_ELSEWHERE, f"{document.name}: {target}"


def test_no_issue_numbers_in_the_repository() -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    found = []
    for name in files:
        if not name or "vendor/" in name or name.endswith(("package-lock.json", ".png")):
            continue
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        found += [f"{name}: {match.group()}" for match in ISSUE_NUMBER.finditer(text)]
    assert found == []
