"""A bounded LRU of finished answers, so a repeated identical request skips the whole pipeline.

Evaluation is deterministic (every job starts from the same seed and torch state), so the
same code and output always give the same answer. Entries are the response bytes, bounded
both in number and in total size, since one answer of a large graph can be megabytes. The
layout service keeps drawings (SVG by DOT source) in another (app/server/layout.py).
"""

import hashlib
import hmac
import secrets
from collections import OrderedDict

from app.contract.schemas import GraphRequest


def cache_key(request: GraphRequest) -> str:
    """The program, output and view: what is `include`d makes no difference, as only
    complete answers are kept."""
    return hashlib.sha256(request.model_dump_json(exclude={"include"}).encode()).hexdigest()


# This server's own: the shape token is handed to clients, and a plain hash of the program
# would let anyone who guesses a program tell whether someone ran it lately, and draw it
# (POST /api/graph/view), without running it.
SHAPE_SECRET = secrets.token_bytes(32)


def shape_key(request: GraphRequest) -> str:
    """The program and output, which make the graph: every view of it shares this key, which
    only a server that drew the graph can make."""
    fields = {"include", "view"}
    made = request.model_dump_json(exclude=fields).encode()
    return hmac.new(SHAPE_SECRET, made, hashlib.sha256).hexdigest()


class ResponseCache:
    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, bytes] = OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: str, count: bool = True) -> bytes | None:
        """The body kept for `key`; counted as a hit or miss unless not `count` (a caller
        that looks under several keys for one answer tallies it itself)."""
        body = self.entries.get(key)
        if count:
            self.tally(hit=body is not None)
        if body is not None:
            self.entries.move_to_end(key)
        return body

    def tally(self, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes or self.max_entries == 0:
            return
        if key in self.entries:
            self.size -= len(self.entries.pop(key))
        self.entries[key] = body
        self.size += len(body)
        while len(self.entries) > self.max_entries or self.size > self.max_bytes:
            _, evicted = self.entries.popitem(last=False)
            self.size -= len(evicted)
