"""The extras an answer left pending (its gradient check), kept for a short while under an
unguessable token, for GET /api/graph/extras/{token}.

An entry is opened when the answer goes out, with what makes its extras; they are made when
first asked for (the job process that answered makes them, or the program runs again), and
kept. The store is bounded in entries and bytes (the oldest go first) and in time (an entry
lives `ttl_s` from its answer). It holds only what the answer's own reader may fetch: the
token is in that answer and nowhere else.
"""

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# Makes an entry's extras and gives them to `ExtrasStore.fill`; raises what keeps it from
# making them now (SaturatedError: the reader may retry).
Make = Callable[[], Awaitable[None]]
TOKEN_BYTES = 32  # 256 bits of secrets.token_urlsafe: not guessable, not enumerable


@dataclass
class Entry:
    opened: float
    make: Make
    making: "asyncio.Task[None] | None" = None
    body: bytes | None = None
    size: int = field(default=0)


class ExtrasStore:
    def __init__(self, max_entries: int, max_bytes: int, ttl_s: float) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.entries: OrderedDict[str, Entry] = OrderedDict()  # oldest first
        self.size = 0
        self.making: set[asyncio.Task[None]] = set()  # held here: the loop keeps weak refs

    def open(self, make: Make) -> str:
        """A new token, whose extras `make` makes when they are first asked for."""
        self._expire()
        while self.entries and len(self.entries) >= self.max_entries:
            self._drop(next(iter(self.entries)))
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if self.max_entries > 0:
            self.entries[token] = Entry(time.monotonic(), make)
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

    def close(self) -> None:
        """The server is stopping: no extras will be made any more."""
        for task in list(self.making):
            task.cancel()
        for token in list(self.entries):
            self._drop(token)

    async def get(self, token: str, wait_s: float) -> bytes | None:
        """The extras of `token`, made now if they were not yet, waiting up to `wait_s` for
        them; None for a token unknown, expired or dropped. Raises TimeoutError if they are
        still to come, and what kept them from being made (the next reader tries again)."""
        self._expire()
        entry = self.entries.get(token)
        if entry is None:
            return None
        if entry.body is None:
            making = entry.making
            if making is None or (making.done() and (making.cancelled() or making.exception())):
                making = entry.making = asyncio.ensure_future(entry.make())
                self.making.add(making)
                making.add_done_callback(self._made)
            async with asyncio.timeout(wait_s):
                await asyncio.shield(making)
        return entry.body if token in self.entries else None

    def _made(self, making: "asyncio.Task[None]") -> None:
        self.making.discard(making)
        if not making.cancelled():
            making.exception()  # seen by the reader that waited, if one still did

    def _expire(self) -> None:
        oldest = time.monotonic() - self.ttl_s
        while self.entries and next(iter(self.entries.values())).opened < oldest:
            self._drop(next(iter(self.entries)))

    def _drop(self, token: str) -> None:
        entry = self.entries.pop(token)
        self.size -= entry.size
        entry.body = None
