"""The settings table of docs/settings.md, made from app/contract/settings.py's fields.

The fields are the one home of every setting's name, default, bounds and description; the
document shows them between two markers. `python -m app.server.settings_doc` rewrites that part,
`python -m app.server.settings_doc --check` fails when it differs (tests/test_settings_doc.py runs
the same comparison, so a description changed in one place only fails the tests).
"""

import argparse
import sys
from pathlib import Path

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from app.contract.settings import Limits, Settings

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
START = "<!-- settings table: made by `python -m app.server.settings_doc`; do not edit by hand -->"
END = "<!-- end of settings table -->"
SECTIONS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("The server", Settings),
    ("What one program may use", Limits),
)
HEADER = (
    "| setting | environment variable | default | bounds | what it bounds |\n|---|---|---|---|---|"
)
_BOUNDS: tuple[tuple[type[object], str, str], ...] = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.Lt, "lt", "<"),
)


def _bounds(field: FieldInfo) -> str:
    found = [
        f"{sign} {getattr(rule, attribute)}"
        for rule in field.metadata
        for rule_type, attribute, sign in _BOUNDS
        if isinstance(rule, rule_type)
    ]
    return ", ".join(found) or "—"


def _default(field: FieldInfo) -> str:
    return f"`{field.default!r}`"


def _rows(model: type[BaseSettings]) -> list[str]:
    prefix = str(model.model_config.get("env_prefix", ""))
    rows = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseSettings):
            continue  # a group of settings of its own (Limits): a section of its own
        description = (field.description or "").replace("|", "\\|")
        env = f"{prefix}{name}".upper()
        rows.append(
            f"| `{name}` | `{env}` | {_default(field)} | {_bounds(field)} | {description} |"
        )
    return rows


def render_table() -> str:
    """The settings as Markdown: one table per section, a row per field."""
    parts = []
    for title, model in SECTIONS:
        parts.append(f"### {title}\n\n{HEADER}\n" + "\n".join(_rows(model)))
    return "\n\n".join(parts)


def with_table(document: str) -> str:
    """The document with the part between the markers replaced by the current table."""
    head, start, rest = document.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{DOCUMENT.name} lacks the markers {START!r} and {END!r}")
    return f"{head}{START}\n{render_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the document's table is out of date"
    )
    arguments = parser.parse_args(argv)
    current = DOCUMENT.read_text()
    wanted = with_table(current)
    if arguments.check:
        if current != wanted:
            print(
                f"{DOCUMENT} is out of date: run python -m app.server.settings_doc", file=sys.stderr
            )
            return 1
        return 0
    DOCUMENT.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
