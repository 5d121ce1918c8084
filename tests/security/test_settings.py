"""Limits live in settings and can be overridden from the environment (their documentation is
tests/test_settings_doc.py's)."""

import pytest
from pydantic import ValidationError

from app.contract.settings import Settings


def test_environment_overrides_server_settings_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGX_JOB_TIMEOUT_S", "2.5")
    monkeypatch.setenv("AGX_MAX_STEPS", "1234")
    settings = Settings()
    assert settings.job_timeout_s == 2.5
    assert settings.limits.max_steps == 1234


def test_default_evaluation_limit_is_about_five_seconds() -> None:
    assert 3 <= Settings().job_timeout_s <= 10


@pytest.mark.parametrize("variable", ["AGX_WORKERS", "AGX_MAX_STEPS", "AGX_MAX_BODY_BYTES"])
def test_a_value_out_of_bounds_stops_the_server(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "0")
    with pytest.raises(ValidationError, match=variable.removeprefix("AGX_").lower()):
        Settings()
