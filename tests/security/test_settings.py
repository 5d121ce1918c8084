"""Limits live in settings, can be overridden from the environment, and are documented."""

from pathlib import Path

import pytest

from app.settings import Limits, Settings

ROOT = Path(__file__).resolve().parents[2]
# The README lists the limits; docs/self-hosting.md the settings of operating a server.
DOCUMENTED = "\n".join((ROOT / name).read_text() for name in ("README.md", "docs/self-hosting.md"))


def test_environment_overrides_server_settings_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGX_JOB_TIMEOUT_S", "2.5")
    monkeypatch.setenv("AGX_MAX_STEPS", "1234")
    settings = Settings()
    assert settings.job_timeout_s == 2.5
    assert settings.limits.max_steps == 1234


def test_default_evaluation_limit_is_about_five_seconds() -> None:
    assert 3 <= Settings().job_timeout_s <= 10


DEFAULTS = {
    name: field.default
    for model in (Settings, Limits)
    for name, field in model.model_fields.items()
    if name != "limits"
}


@pytest.mark.parametrize("name", DEFAULTS)
def test_readme_documents_every_setting_with_its_default(name: str) -> None:
    assert f"`AGX_{name.upper()}` | {DEFAULTS[name]} |" in DOCUMENTED
