"""The gradient check after the drawing: `include`, `pending`, and extras by token."""

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.contract.replies import WorkerReply
from app.contract.schemas import GraphExtras
from app.contract.settings import Settings
from app.main import create_app
from app.server.extras import ExtrasStore
from app.server.workers import EvaluationPool, SaturatedError
from tests.loops import on_a_loop
from tests.seed_cells import CHAIN_RULE_LESSON

MLP = """import torch
import torch.nn.functional as F
torch.manual_seed(0)
x = torch.randn(8, 3)
W = torch.randn(3, 4, requires_grad=True)
b = torch.zeros(4, requires_grad=True)
loss = F.cross_entropy(x @ W + b, torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
"""


@pytest.fixture(scope="module")
def uncached() -> Iterator[TestClient]:
    """An app without an answer cache, so that each request runs its program."""
    settings = Settings(workers=1, cache_entries=0, extras_ttl_s=2.0, extras_entries=4)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def two_steps(client: TestClient, code: str) -> dict[str, Any]:
    """The answer without its gradient check, then with what its token brings."""
    answer: dict[str, Any] = client.post("/api/graph", json={"code": code}).json()
    assert answer["pending"] == ["gradcheck"]
    assert answer["gradcheck"] == {}
    assert re.fullmatch(r"/api/graph/extras/[A-Za-z0-9_-]{43}", answer["extras"])
    response = client.get(answer["extras"])
    assert response.status_code == 200
    extras = response.json()
    assert set(extras) == {"gradcheck", "warnings"}
    answer["gradcheck"] = extras["gradcheck"]
    answer["warnings"] += extras["warnings"]
    answer["pending"], answer["extras"] = [], None
    return answer


@pytest.mark.parametrize("code", [CHAIN_RULE_LESSON, MLP])
def test_inline_answer_is_the_two_steps_joined(uncached: TestClient, code: str) -> None:
    inline = uncached.post("/api/graph", json={"code": code, "include": ["gradcheck"]}).json()
    assert inline["pending"] == []
    assert inline["extras"] is None
    assert inline["gradcheck"]
    assert all(check["ok"] for check in inline["gradcheck"].values())
    assert two_steps(uncached, code) == inline


@pytest.fixture(scope="module")
def impatient() -> Iterator[TestClient]:
    """An app whose job processes wait half a second for their extras to be asked for, and
    keep answers (the cache)."""
    settings = Settings(workers=1, extras_wait_s=0.5, extras_waiting_jobs=2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _unasked(client: TestClient) -> int:
    pool: EvaluationPool = client.app.state.services.pool  # type: ignore[attr-defined]
    return pool.answered_ends["unasked"]


def test_extras_nobody_asks_for_are_never_made(impatient: TestClient) -> None:
    """The process that answered waits for its extras to be asked for, then is let go of;
    asked later, they are made by running the program again, and are the same."""
    inline = impatient.post(
        "/api/graph", json={"code": MLP + "# inline\n", "include": ["gradcheck"]}
    ).json()
    before = _unasked(impatient)
    answer = impatient.post("/api/graph", json={"code": MLP + "# later\n"}).json()
    assert answer["pending"] == ["gradcheck"]
    time.sleep(1.0)
    assert _unasked(impatient) == before + 1
    extras = impatient.get(answer["extras"]).json()
    assert extras["gradcheck"] == inline["gradcheck"]
    assert all(check["ok"] for check in extras["gradcheck"].values())


def test_only_the_newest_answers_wait(impatient: TestClient) -> None:
    """Three answers nobody asked about: beyond `extras_waiting_jobs` (2) the oldest
    process is let go of at once; each check is still there when asked for."""
    before = _unasked(impatient)
    answers = [
        impatient.post("/api/graph", json={"code": CHAIN_RULE_LESSON + f"# {n}\n"}).json()
        for n in range(3)
    ]
    assert _unasked(impatient) == before + 1
    for answer in answers:
        extras = impatient.get(answer["extras"]).json()
        assert extras["gradcheck"]["x"]["ok"] is True


def test_a_kept_answer_without_its_extras_gets_a_token_of_its_own(impatient: TestClient) -> None:
    """Nobody fetched the first answer's extras: the repeat comes from the cache, with its
    own token, whose extras are made when asked for."""
    code = MLP + "# repeated, never fetched\n"
    cache = impatient.app.state.services.cache  # type: ignore[attr-defined]
    first = impatient.post("/api/graph", json={"code": code}).json()
    hits = cache.hits
    repeat = impatient.post("/api/graph", json={"code": code}).json()
    assert cache.hits == hits + 1
    assert repeat["pending"] == ["gradcheck"]
    assert repeat["extras"] != first["extras"]
    assert {**repeat, "extras": None} == {**first, "extras": None}
    second = impatient.get(repeat["extras"]).json()
    whole = impatient.post("/api/graph", json={"code": code}).json()
    assert whole["pending"] == []  # made again for the repeat's token, and kept whole
    assert whole["gradcheck"] == second["gradcheck"]


def test_a_request_that_includes_the_check_never_gets_it_pending(impatient: TestClient) -> None:
    """An answer kept without its check (nobody fetched it) is not what a request that
    includes the check gets: it waits for the check."""
    code = CHAIN_RULE_LESSON + "# kept pending, then included\n"
    assert impatient.post("/api/graph", json={"code": code}).json()["pending"] == ["gradcheck"]
    whole = impatient.post("/api/graph", json={"code": code, "include": ["gradcheck"]}).json()
    assert whole["pending"] == []
    assert whole["gradcheck"]["x"]["ok"] is True


def test_a_process_holding_much_memory_does_not_wait() -> None:
    """Waiting processes are bounded in the memory they hold beyond what they were given,
    as the server reads it from /proc: one over the bound is let go of at once, and its
    check, asked for, runs the program again."""
    settings = Settings(workers=1, extras_waiting_mb=16)
    big = "import torch\nkept = [torch.ones(4_000_000) for _ in range(4)]\n" + CHAIN_RULE_LESSON
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        small = client.post("/api/graph", json={"code": CHAIN_RULE_LESSON}).json()
        assert _unasked(client) == 0
        answer = client.post("/api/graph", json={"code": big}).json()
        assert _unasked(client) == 1  # 64 MB of tensors: let go of at once
        pool: EvaluationPool = client.app.state.services.pool  # type: ignore[attr-defined]
        assert len(pool.waiting_answered) == 1  # the small one still waits
        for done in (answer, small):
            assert client.get(done["extras"]).json()["gradcheck"]["x"]["ok"] is True
        assert pool.answered_ends["asked"] == 2  # the small one's, and the big one's again


def test_unknown_token_is_problem_404(uncached: TestClient) -> None:
    response = uncached.get("/api/graph/extras/not-a-token")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_expired_token_is_problem_404(uncached: TestClient) -> None:
    answer = uncached.post("/api/graph", json={"code": CHAIN_RULE_LESSON}).json()
    assert uncached.get(answer["extras"]).status_code == 200
    time.sleep(2.5)  # the fixture's extras_ttl_s, and a margin
    response = uncached.get(answer["extras"])
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_include_rejects_unknown_extras(uncached: TestClient) -> None:
    response = uncached.post("/api/graph", json={"code": "x = 1", "include": ["passes"]})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_cache_keeps_the_complete_answer(client: TestClient) -> None:
    """Cached once the extras came: a repeat has the gradient check, whatever it asks."""
    code = CHAIN_RULE_LESSON + "\n# cached once complete\n"
    first = client.post("/api/graph", json={"code": code}).json()
    assert first["pending"] == ["gradcheck"]
    assert client.get(first["extras"]).status_code == 200
    again = client.post("/api/graph", json={"code": code}).json()
    assert again["pending"] == []
    assert again["gradcheck"]["x"]["ok"] is True


def test_openapi_documents_include_and_extras(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    include = schema["components"]["schemas"]["GraphRequest"]["properties"]["include"]
    assert include["description"]
    assert "/api/graph/extras/{token}" in schema["paths"]


async def _never() -> None:
    """Makes nothing: the tests fill the entry themselves."""
    await asyncio.sleep(60)


def test_store_is_bounded_in_entries_and_bytes() -> None:
    async def scenario() -> None:
        store = ExtrasStore(max_entries=2, max_bytes=10, ttl_s=60)
        first, second = store.open(_never), store.open(_never)
        store.fill(first, b"12345")
        store.fill(second, b"123456")  # 11 bytes in all: the oldest goes
        assert await store.get(first, 0.1) is None
        assert await store.get(second, 0.1) == b"123456"
        third, fourth = store.open(_never), store.open(_never)  # two entries at most
        assert len(store.entries) == 2
        assert await store.get(second, 0.1) is None
        store.fill(third, b"x" * 11)  # alone larger than the store: never kept
        assert await store.get(third, 0.1) is None
        with pytest.raises(TimeoutError):
            await store.get(fourth, 0.05)  # not made yet
        store.fill(fourth, b"{}")
        assert await store.get(fourth, 0.1) == b"{}"
        assert store.size == 2
        store.close()  # and cancels the making that the reader of `fourth` started
        assert await store.get(fourth, 0.1) is None
        await asyncio.sleep(0.01)  # the cancelled making ends
        assert (len(store.entries), store.size, len(store.making)) == (0, 0, 0)

    on_a_loop(scenario())


def test_store_makes_extras_once_when_first_asked() -> None:
    """Made by the first reader, not before; a second reader waits for the same making; a
    making that fails tells its reader, and the next reader makes them again."""

    async def scenario() -> None:
        store = ExtrasStore(max_entries=4, max_bytes=100, ttl_s=60)
        calls: list[str] = []

        async def make() -> None:
            calls.append(token)
            await asyncio.sleep(0.05)
            if len(calls) == 1:
                raise RuntimeError("no worker free")
            store.fill(token, b"{}")

        token = store.open(make)
        await asyncio.sleep(0.05)
        assert calls == []  # nobody asked yet
        with pytest.raises(RuntimeError):
            await store.get(token, 1)
        readers = [asyncio.ensure_future(store.get(token, 1)) for _ in range(2)]
        assert await asyncio.gather(*readers) == [b"{}", b"{}"]
        assert len(calls) == 2

    on_a_loop(scenario())


def test_a_long_loop_is_checked_within_the_default_budget() -> None:
    """A weight shared by 100 steps: 300 calls, whose batched replay the default budget
    pays for; the check must not spend it on a pessimistic charge first."""
    from app.contract.schemas import GraphRequest
    from app.contract.settings import Limits
    from app.worker.evaluate import evaluate
    from bench.programs import rnn

    check = evaluate(GraphRequest(code=rnn(100)), Limits()).gradcheck["W"]
    assert check.ok is True, check.note


class AnsweredProcess:
    """A job process that answered and makes its extras when asked (the pool's side only)."""

    ended: str | None = None

    async def send_async(self, message: bytes, timeout: float) -> bool:
        return True

    def stop(self) -> None:
        pass


def test_at_most_workers_processes_make_extras_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process that answered may be asked for its extras: at most `workers` make them
    at once, the others wait their turn, and one that waits past max_wait_s is a 503."""
    pool = EvaluationPool(Settings(workers=2, max_wait_s=0.45))
    making, most = 0, 0

    async def receive(process: Any, deadline: float) -> WorkerReply:
        nonlocal making, most
        making += 1
        most = max(most, making)
        await asyncio.sleep(0.1)
        making -= 1
        return WorkerReply(extras=GraphExtras())

    monkeypatch.setattr(pool, "receive", receive)

    async def ask(count: int) -> list[Any]:
        asked = (pool.make_extras(AnsweredProcess()) for _ in range(count))  # type: ignore[arg-type]
        return await asyncio.gather(*asked, return_exceptions=True)

    async def both() -> tuple[list[Any], list[Any]]:
        made = await ask(6)
        # 12 at 0.1 s, two at a time, take 0.6 s: the last two wait 0.5 s for their turn.
        return made, await ask(12)

    made, late = on_a_loop(both())
    assert most == 2
    assert all(not isinstance(extras, BaseException) and extras.complete for extras in made)
    turned_away = [outcome for outcome in late if isinstance(outcome, SaturatedError)]
    assert turned_away
    assert all(
        not isinstance(o, BaseException) and o.complete for o in late if o not in turned_away
    )
    assert pool.answered_ends["asked"] == 18
    assert pool.checking._value == 2  # every one let go of its turn


def test_a_direction_check_that_is_not_a_number_comes_back_as_one(client: TestClient) -> None:
    """sqrt(x - 1) at x = 1: autograd's gradient is infinite, and the slope along a direction
    not a number. JSON has no NaN: both come as text, as a tensor's values do, and the check
    of every leaf still comes (a null there failed the reply's validation, and the whole
    check with it)."""
    code = "import torch\nx = torch.ones(100, requires_grad=True)\ny = torch.sqrt(x - 1).sum()\n"
    answer = client.post("/api/graph", json={"code": code, "include": ["gradcheck"]}).json()
    assert answer["gradcheck"]["x"]["direction"] == {
        "autograd": "nan",
        "numeric": "nan",
        "ok": False,
    }
    assert not any("could not be made" in warning for warning in answer["warnings"])


def test_a_big_answers_pending_check_keeps_no_graph(uncached: TestClient) -> None:
    """An answer's extras may wait a minute for their reader: a big graph's values, as the
    server holds them, take many times its JSON, and 256 of them would take gigabytes. Its
    pending entry holds the process that answered, which makes the check when asked, and not
    the graph; a small answer's entry keeps it, so that the whole answer is kept once the
    check comes."""
    code = (
        "import torch\nx = torch.ones(100, requires_grad=True)\ny = x\n"
        "for _ in range(150):\n    y = y * 1.001\nloss = y.sum()\n"
    )
    store: ExtrasStore = uncached.app.state.services.extras  # type: ignore[attr-defined]
    held = {}
    for name, program in (("big", code), ("small", MLP)):
        answer = uncached.post("/api/graph", json={"code": program}).json()
        token = answer["extras"].rsplit("/", 1)[1]
        make = store.entries[token].make
        held[name] = [type(cell.cell_contents).__name__ for cell in make.__closure__ or ()]
        extras = uncached.get(answer["extras"]).json()
        assert extras["gradcheck"], name  # made by the process that answered, both times
    assert "Evaluated" not in held["big"]
    assert "Evaluated" in held["small"]
