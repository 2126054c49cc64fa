"""Prompt caching as the Messages API does it: breakpoints, prefix hashes, minimum length, TTLs.

The prompt is rendered in the API's order (tools, then system, then messages) into content blocks, each with the hash
of the whole prefix up to and including it. A breakpoint is a block with ``cache_control`` (explicit) or the last block
of the request when the body has a top-level ``cache_control`` (automatic); at most four per request. On a request the
cache looks for the longest earlier-written prefix at each breakpoint and up to 20 blocks before it (the API's
lookback): those tokens are *read*. Every breakpoint past the hit whose prefix reaches the model's minimum cacheable
length is *written* (created), its tokens attributed to its TTL (``5m`` default, ``1h``). An entry lives for its TTL
from its last use: reads refresh it. The cache is scoped per API key (the API scopes per organization) and per model.

Usage then follows the API's identity: ``input_tokens`` is what comes after the last cached/written prefix, and
``input_tokens + cache_creation_input_tokens + cache_read_input_tokens`` is the whole prompt.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claudewire.sim.shapes import NO_CACHE, CacheUsage, block_text

__all__ = ["MAX_BREAKPOINTS", "CacheControlError", "CachePlan", "PromptCache", "min_cacheable_tokens"]

MAX_BREAKPOINTS = 4
"""Blocks with ``cache_control`` a request may carry (the automatic one counts)."""

LOOKBACK = 20
"""Blocks before a breakpoint the API checks for an earlier-written prefix."""

TTL_SECONDS: dict[str, float] = {"5m": 300.0, "1h": 3600.0}

_MIN_CACHEABLE: dict[str, int] = {
    # minimum cacheable prompt length by model, as the prompt-caching guide lists it
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-3-5-haiku": 2048,
}
_DEFAULT_MIN = 1024
_BASE_OVERHEAD = 8  # the prompt's own framing tokens, never part of a cached prefix (see shapes.count_input_tokens)


def min_cacheable_tokens(model: str) -> int:
    """The shortest prefix (in tokens) `model` caches; shorter breakpoints are processed without caching."""
    for prefix, tokens in _MIN_CACHEABLE.items():
        if model.startswith(prefix):
            return tokens
    return _DEFAULT_MIN


class CacheControlError(ValueError):
    """A ``cache_control`` the API rejects with 400 ``invalid_request_error`` (the message says why)."""


@dataclass(frozen=True, slots=True)
class _Block:
    digest: bytes  # hash of the prefix through this block
    tokens: int  # prefix tokens through this block
    ttl: str | None  # the breakpoint's TTL, None if the block is not a breakpoint


@dataclass(frozen=True, slots=True)
class CachePlan:
    """One request's rendered prefix: its blocks and the indexes of its breakpoints."""

    model: str
    blocks: tuple[_Block, ...]
    points: tuple[int, ...]


def _ttl_of(control: Any, where: str) -> str:
    if not isinstance(control, Mapping):
        raise CacheControlError(f"{where}: Input should be an object")
    if control.get("type") != "ephemeral":
        raise CacheControlError(f"{where}.type: Input should be 'ephemeral'")
    ttl = control.get("ttl", "5m")
    if ttl not in TTL_SECONDS:
        raise CacheControlError(f"{where}.ttl: Input should be '5m' or '1h'")
    return str(ttl)


class _Renderer:
    """Walks a body in render order, chaining the prefix hash and counting prefix tokens like count_input_tokens."""

    def __init__(self, seed: bytes) -> None:
        self.blocks: list[_Block] = []
        self._hash = hashlib.sha256(seed).digest()
        self._text_chars = 0
        self._tool_chars = 0
        self._messages = 0
        self._first = True  # the first block of a container (system, a message) has no separator before it

    def add(self, canonical: Mapping[str, Any], control: Any, where: str, *, tool: bool = False) -> None:
        data = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
        self._hash = hashlib.sha256(self._hash + data).digest()
        if tool:  # as json.dumps(tools) counts them: brackets and ", " between tools
            self._tool_chars += len(json.dumps(canonical)) + 2
        else:  # as count_input_tokens joins a container's blocks: one space between them
            self._text_chars += len(block_text(canonical["block"])) + (0 if self._first else 1)
            self._first = False
        tokens = 3 * self._messages + (self._text_chars + 3) // 4
        if self._tool_chars:
            tokens += (self._tool_chars + 3) // 4 + 300
        ttl = _ttl_of(control, where) if control is not None else None
        self.blocks.append(_Block(self._hash, tokens, ttl))

    def container(self, *, message: bool) -> None:
        self._messages += message
        self._first = True


def _strip(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _render(scope: str, model: str, body: Mapping[str, Any]) -> list[_Block]:
    r = _Renderer(f"{scope}\0{model}\0".encode())
    tools = body.get("tools")
    for i, tool in enumerate(tools if isinstance(tools, list) else ()):
        if isinstance(tool, Mapping):
            r.add(_strip(tool), tool.get("cache_control"), f"tools.{i}.cache_control", tool=True)
    system = body.get("system")
    r.container(message=False)
    if isinstance(system, str) and system:
        r.add({"system": True, "block": {"type": "text", "text": system}}, None, "system")
    elif isinstance(system, list):
        for i, block in enumerate(system):
            if isinstance(block, Mapping):
                r.add({"system": True, "block": _strip(block)}, block.get("cache_control"), f"system.{i}.cache_control")
    messages = body.get("messages")
    for m, message in enumerate(messages if isinstance(messages, list) else ()):
        if not isinstance(message, Mapping):
            continue
        r.container(message=True)
        role, content = message.get("role"), message.get("content")
        if isinstance(content, str):
            r.add({"m": m, "role": role, "block": {"type": "text", "text": content}}, None, f"messages.{m}")
            continue
        for i, block in enumerate(content if isinstance(content, list) else ()):
            if isinstance(block, Mapping):
                where = f"messages.{m}.content.{i}.cache_control"
                r.add({"m": m, "role": role, "block": _strip(block)}, block.get("cache_control"), where)
    blocks = r.blocks
    automatic = body.get("cache_control")
    if automatic is not None and blocks:
        ttl = _ttl_of(automatic, "cache_control")
        last = blocks[-1]
        if last.ttl is None:  # the automatic breakpoint goes on the last cacheable block
            blocks[-1] = _Block(last.digest, last.tokens, ttl)
    return blocks


def _breakpoints(blocks: list[_Block]) -> list[int]:
    points = [i for i, b in enumerate(blocks) if b.ttl is not None]
    if len(points) > MAX_BREAKPOINTS:
        raise CacheControlError(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(points)}."
        )
    seen_5m = False
    for i in points:
        if blocks[i].ttl == "5m":
            seen_5m = True
        elif seen_5m:
            raise CacheControlError("a cache_control block with ttl='1h' must not come after one with ttl='5m'")
    return points


class PromptCache:
    """The simulator's prompt cache: prefix hash → expiry, bounded to `max_entries` (oldest evicted first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 4096) -> None:
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[bytes, tuple[float, float]] = OrderedDict()  # digest → (expires_at, ttl seconds)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every entry (as if every TTL had run out)."""
        self._entries.clear()

    def plan(self, scope: str, model: str, body: Mapping[str, Any]) -> CachePlan:
        """The request's blocks and breakpoints; `CacheControlError` for a ``cache_control`` the API refuses."""
        blocks = _render(scope, model, body)
        return CachePlan(model, tuple(blocks), tuple(_breakpoints(blocks)))

    def apply(self, plan: CachePlan, input_tokens: int) -> CacheUsage:
        """Read and write the cache for one answered request; `input_tokens` is the whole prompt's count."""
        blocks, points, model = plan.blocks, plan.points, plan.model
        if not points:
            return NO_CACHE
        limit = max(0, input_tokens - _BASE_OVERHEAD)
        now = self._clock()
        hit = -1
        for point in points:
            for i in range(point, max(-1, point - LOOKBACK - 1), -1):
                if i > hit and self._live(blocks[i].digest, now):
                    hit = i
                    break
        read = min(blocks[hit].tokens, limit) if hit >= 0 else 0
        if hit >= 0:
            self._touch(blocks[hit].digest, now)
        minimum = min_cacheable_tokens(model)
        created = {"5m": 0, "1h": 0}
        done = read
        for point in points:
            block = blocks[point]
            tokens = min(block.tokens, limit)
            if point <= hit or tokens < minimum or block.ttl is None:
                continue
            created[block.ttl] += max(0, tokens - done)
            done = max(done, tokens)
            self._store(block.digest, now, TTL_SECONDS[block.ttl])
        return CacheUsage(read=read, created_5m=created["5m"], created_1h=created["1h"])

    def _live(self, digest: bytes, now: float) -> bool:
        entry = self._entries.get(digest)
        if entry is None:
            return False
        if entry[0] <= now:
            del self._entries[digest]
            return False
        return True

    def _touch(self, digest: bytes, now: float) -> None:
        _, ttl = self._entries[digest]
        self._entries[digest] = (now + ttl, ttl)
        self._entries.move_to_end(digest)

    def _store(self, digest: bytes, now: float, ttl: float) -> None:
        old = self._entries.get(digest)
        self._entries[digest] = (now + max(ttl, old[1] if old else 0.0), max(ttl, old[1] if old else 0.0))
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
