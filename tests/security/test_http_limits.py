"""The server as `make serve` runs it: request heads are bounded, a stalled body gets 408,
and neither holds up /healthz."""

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.security.live_server import Live, live_server


@pytest.fixture(scope="module")
def server() -> Iterator[Live]:
    with live_server(env={"AGX_BODY_TIMEOUT_S": "1"}) as live:
        yield live


def connect(live: Live) -> socket.socket:
    host, port = live.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def healthz_seconds(live: Live) -> float:
    started = time.monotonic()
    assert httpx.get(f"{live.url}/healthz", timeout=5).status_code == 200
    return time.monotonic() - started


def test_a_stalled_body_gets_408(server: Live) -> None:
    with connect(server) as client:
        client.sendall(
            b"POST /api/graph HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"code": '
        )
        started = time.monotonic()
        answer = client.recv(65536)
        assert b" 408 " in answer.split(b"\r\n", 1)[0]
        assert b"application/problem+json" in answer
        assert time.monotonic() - started < 5
    assert healthz_seconds(server) < 1


def test_an_endless_request_head_is_cut_off(server: Live) -> None:
    with connect(server) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-long: ")
        sent = 0
        try:
            while sent < 50 * 1024 * 1024:
                client.sendall(b"a" * 65536)
                sent += 65536
                if sent % (1024 * 1024) == 0:
                    assert healthz_seconds(server) < 1
        except OSError:
            pass  # closed by the server, as it should be
        assert sent < 10 * 1024 * 1024
    assert healthz_seconds(server) < 1


def test_many_stalled_connections_do_not_stall_the_server(server: Live) -> None:
    clients = [connect(server) for _ in range(200)]
    try:
        for client in clients:
            client.sendall(b"POST /api/graph HTTP/1.1\r\nhost: x\r\ncontent-length: 50\r\n\r\n{")
        assert healthz_seconds(server) < 1
    finally:
        for client in clients:
            client.close()
