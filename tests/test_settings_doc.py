"""docs/settings.md's table is app/contract/settings.py's fields, description and bounds
included."""

import pytest

from app.contract.settings import Limits, Settings
from app.server import settings_doc


def test_committed_table_is_the_generated_one() -> None:
    committed = settings_doc.DOCUMENT.read_text()
    assert committed == settings_doc.with_table(committed), (
        "docs/settings.md is out of date: run `.venv/bin/python -m app.server.settings_doc`"
    )


def test_every_field_has_a_row_with_its_description() -> None:
    table = settings_doc.render_table()
    for model in (Settings, Limits):
        for name, field in model.model_fields.items():
            if name == "limits":
                continue
            assert field.description, f"{name} has no description"
            assert f"| `{name}` | `AGX_{name.upper()}` |" in table
            assert field.description in table


def test_bounds_are_shown() -> None:
    table = settings_doc.render_table()
    assert "| `workers` | `AGX_WORKERS` | `2` | >= 1 |" in table
    assert "| `job_timeout_s` | `AGX_JOB_TIMEOUT_S` | `5.0` | > 0 |" in table
    assert "| `prefault_jobs` | `AGX_PREFAULT_JOBS` | `True` | — |" in table


def test_a_drifted_description_is_found() -> None:
    committed = settings_doc.DOCUMENT.read_text()
    drifted = committed.replace("Most elements in one tensor.", "Most elements in a tensor.")
    assert drifted != committed
    assert settings_doc.with_table(drifted) != drifted


def test_check_mode_reports_the_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert settings_doc.main(["--check"]) == 0
    assert capsys.readouterr().err == ""
