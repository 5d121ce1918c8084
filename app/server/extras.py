"""The extras an answer left pending (its gradient check), kept for a short while under an
unguessable token, for GET /api/graph/extras/{token}.

An entry is opened when the answer goes out and filled when the job process sends its last
message; a reader that comes first waits for it. The store is bounded in entries and bytes
(the oldest go first) and in time (an entry lives `ttl_s` from its answer). It holds only
what the answer's own reader may fetch: the token is in that answer and nowhere else.
"""

import asyncio
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

TOKEN_BYTES = 32  # 256 bits of secrets.token_urlsafe: not guessable, not enumerable


@dataclass
class Entry:
    opened: float
    ready: "asyncio.Future[None]"
    body: bytes | None = None
    size: int = field(default=0)


class ExtrasStore:
    def __init__(self, max_entries: int, max_bytes: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.entries: OrderedDict[str, Entry] = OrderedDict()  # oldest first
        self.size = 0

    def open(self) -> str:
        """A new token, whose extras are yet to come."""
        self._expire()
        while self.entries and len(self.entries) >= self.max_entries:
            self._drop(next(iter(self.entries)))
        token = secrets.token_urlsafe(TOKEN_BYTES)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.max_entries > 0:
            self.entries[token] = Entry(time.monotonic(), ready)
        return token

    def fill(self, token: str, body: bytes) -> None:
        """The extras of `token`, as their JSON; dropped if they alone pass the bytes bound
        (a reader then learns they are gone), or if the token was dropped meanwhile."""
        entry = self.entries.get(token)
        if entry is None:
            return
        if len(body) > self.max_bytes:
            self._drop(token)
            return
        entry.body, entry.size = body, len(body)
        self.size += entry.size
        while self.size > self.max_bytes:
            self._drop(next(iter(self.entries)))
        _wake(entry.ready)

    def close(self, token: str) -> None:
        """`token`'s extras will never come (the server is stopping)."""
        if token in self.entries:
            self._drop(token)

    async def get(self, token: str, wait_s: float) -> bytes | None:
        """The extras of `token`, waiting up to `wait_s` for them to arrive; None for a
        token unknown, expired or dropped. Raises TimeoutError if they are still to come."""
        self._expire()
        entry = self.entries.get(token)
        if entry is None:
            return None
        if entry.body is None:
            async with asyncio.timeout(wait_s):
                await asyncio.shield(entry.ready)
        return entry.body if token in self.entries else None

    def _expire(self) -> None:
        oldest = time.monotonic() - self.ttl_s
        while self.entries and next(iter(self.entries.values())).opened < oldest:
            self._drop(next(iter(self.entries)))

    def _drop(self, token: str) -> None:
        entry = self.entries.pop(token)
        self.size -= entry.size
        entry.body = None
        _wake(entry.ready)


def _wake(ready: "asyncio.Future[None]") -> None:
    if not ready.done():
        ready.set_result(None)
