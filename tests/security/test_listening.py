"""Where a server with a weakened wall may listen, decided from uvicorn's command line."""

import pytest

from app.server.listening import WeakWallError, check_listening, is_loopback, uvicorn_host

FULL = {"seccomp": "present", "landlock": "present"}
WEAK = {"seccomp": "present", "landlock": "missing: the kernel has no Landlock"}


@pytest.mark.parametrize(
    ("argv", "host"),
    [
        (["/venv/bin/uvicorn", "app.main:app"], "127.0.0.1"),
        (["/venv/bin/uvicorn", "app.main:app", "--host", "0.0.0.0"], "0.0.0.0"),
        (["/venv/bin/uvicorn", "app.main:app", "--host=::"], "::"),
        (
            ["/usr/lib/python3/uvicorn/__main__.py", "app.main:app", "--host", "10.0.0.1"],
            "10.0.0.1",
        ),
        (["/venv/bin/uvicorn", "app.main:app", "--uds", "/run/agx.sock"], "unix"),
        (["/venv/bin/uvicorn", "app.main:app", "--fd", "3"], "fd"),
        (["/venv/bin/pytest", "tests"], None),
    ],
)
def test_the_host_comes_from_uvicorns_command_line(argv: list[str], host: str | None) -> None:
    assert uvicorn_host(argv) == host


def test_loopback_addresses() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.org", "fd"]))


def test_a_weakened_wall_refuses_every_address_but_loopback() -> None:
    check_listening(FULL, allow_weak=False, host="0.0.0.0")
    check_listening(WEAK, allow_weak=False, host="127.0.0.1")
    check_listening(WEAK, allow_weak=False, host="unix")
    check_listening(WEAK, allow_weak=True, host="0.0.0.0")
    for host in ("0.0.0.0", "fd", "192.168.1.5"):
        with pytest.raises(WeakWallError, match="landlock"):
            check_listening(WEAK, allow_weak=False, host=host)
