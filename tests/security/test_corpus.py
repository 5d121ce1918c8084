"""Every program in the hostile corpus gets a clear 4xx, in time, and leaves nothing behind."""

import os
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.contract.settings import Settings
from tests.security.conftest import assert_problem
from tests.security.corpus import CORPUS, FILE_MARKER, Hostile


def marker_files() -> list[Path]:
    places = (Path.cwd(), Path(tempfile.gettempdir()), Path("/tmp"))
    return [path for place in places for path in place.glob(f"*{FILE_MARKER}*")]


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 60
    assert {hostile.slug for hostile in CORPUS} >= {"not-allowed", "limit", "syntax-error"}


@pytest.mark.parametrize("hostile", CORPUS, ids=[hostile.name for hostile in CORPUS])
def test_hostile_program_is_refused(
    hostile: Hostile, healthy: TestClient, settings: Settings
) -> None:
    before = set(os.listdir())
    started = time.monotonic()
    response = healthy.post("/api/graph", json={"code": hostile.code})
    elapsed = time.monotonic() - started
    problem = assert_problem(response)
    assert str(problem["type"]).endswith("/" + hostile.slug), problem
    assert hostile.words.lower() in str(problem["detail"]).lower(), problem
    assert elapsed < settings.job_timeout_s
    assert set(os.listdir()) == before
    assert marker_files() == []


def test_huge_print_is_cut_at_the_output_limit_not_built_first(
    healthy: TestClient, settings: Settings
) -> None:
    code = "print(*range(100000), sep='a' * 100000)"
    started = time.monotonic()
    response = healthy.post("/api/graph", json={"code": code})
    assert time.monotonic() - started < 2
    assert response.status_code == 200
    stdout = response.json()["stdout"]
    assert stdout.endswith("[output cut: too long]\n")
    assert len(stdout) < settings.limits.max_stdout_chars + 100


# Close neighbours of the hostile programs that a learner may well write: still answered.
BENIGN = """
import math
import torch
import torch.nn.functional as F
a = torch.tensor(range(5), dtype=torch.float32)
b = math.fsum(range(10)) + math.factorial(20) + math.comb(10, 3) + math.prod([2, 3, 4])
c = torch.bincount(torch.tensor([1, 2, 2]), minlength=4)
d = F.one_hot(torch.tensor([0, 2]))
e = torch.tensor([[0.0, 1.0], [2.0, 0.0]]).nonzero()
s = 'ab' * 3 + str([0] * 3) + f'{b:>12.2f}'
print(s, int('12') + 2**100, sep=' | ', end='!')
x = torch.ones(3, requires_grad=True)
y = (x * a[:3]).sum()
y.backward()
"""


def test_benign_neighbours_of_the_corpus_still_run(healthy: TestClient) -> None:
    response = healthy.post("/api/graph", json={"code": BENIGN})
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["stdout"].startswith("ababab[0, 0, 0]")
    assert body["stdout"].endswith("!")
    assert body["variables"]["x"]["grad"] == [0.0, 1.0, 2.0]
