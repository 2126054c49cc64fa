"""Reading a request's top-level ``model`` and ``stream``: a scan of the top-level object vs a parse, by timeit.

    python bench/request_fields.py

The gateway must read these two fields from the top level of the body only (issue 18, item 6). Two ways were
candidates: a bounded scan that walks the top-level object and skips nested values (strings, brackets) with a
compiled regex, in Python; or json's C decoder on the whole body. This prints the best of 5 runs per body for both
(and for the old whole-body regex, which was wrong but sets the floor), as a markdown table.
"""

from __future__ import annotations

import base64
import json
import os
import re
import timeit
from collections.abc import Callable

from claudewire._sse import request_fields

_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
_TOKEN = re.compile(_STRING + rb"|[{}\[\]]")
_STRING_AT = re.compile(_STRING)
_SPACE = b" \t\r\n"
_OLD_MODEL = re.compile(rb'(?<!\\)"model"\s*:\s*"([^"\\]{1,100})"')
_OLD_STREAM = re.compile(rb'"stream"\s*:\s*true')


def scan(body: bytes) -> tuple[str | None, bool]:
    """The candidate scan: string and bracket tokens, depth kept; only keys at depth 1 are looked at."""
    depth, model, stream, n = 0, None, False, len(body)
    for found in _TOKEN.finditer(body):
        first = body[found.start()]
        if first == 0x22:
            if depth != 1:
                continue
            at = found.end()
            while at < n and body[at] in _SPACE:
                at += 1
            if at >= n or body[at] != 0x3A:  # a value, not a key
                continue
            key = found.group()
            if key not in (b'"model"', b'"stream"'):
                continue
            at += 1
            while at < n and body[at] in _SPACE:
                at += 1
            if key == b'"stream"':
                stream = body.startswith(b"true", at)
            else:
                value = _STRING_AT.match(body, at)
                model = json.loads(value.group()) if value else None
        elif first in b"{[":
            depth += 1
        else:
            depth -= 1
    return model, stream


def parse(body: bytes) -> tuple[str | None, bool]:
    """What the gateway does: json's C decoder on the whole body (`claudewire._sse.request_fields`)."""
    fields = request_fields(body)
    return fields.model, fields.stream


def old_regex(body: bytes) -> tuple[str | None, bool]:
    """The old whole-body regex (it matched nested keys too): the floor, not a candidate."""
    found = _OLD_MODEL.search(body) if len(body) <= 256 * 1024 else None
    return (found.group(1).decode() if found else None), (b'"stream"' in body and bool(_OLD_STREAM.search(body)))


def claude_code_like(size: int) -> bytes:
    """System prompt, 30 tools with JSON schemas, then tool_use / tool_result turns until `size` bytes; model last."""
    tools = [
        {
            "name": f"tool_{i}",
            "description": "Does a thing. " * 20,
            "input_schema": {"type": "object", "properties": {f"p{j}": {"type": "string"} for j in range(8)}},
        }
        for i in range(30)
    ]
    messages: list[dict[str, object]] = []
    while True:
        n = len(messages)
        tool_input = {"path": f"/src/f{n}.py", "stream": True}
        use = {"type": "tool_use", "id": f"toolu_{n}", "name": "read", "input": tool_input}
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "Let me look. " * 5}, use]})
        result = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": "def f():\n    return 1\n" * 40}
        messages.append({"role": "user", "content": [result]})
        body = {"max_tokens": 32000, "messages": messages, "system": "You are Claude Code. " * 200, "tools": tools}
        raw = json.dumps({**body, "model": "claude-opus-4-5", "stream": True}).encode()
        if len(raw) >= size:
            return raw


def many_tokens() -> bytes:
    """20,000 tiny text blocks: the most tokens per byte a Messages body plausibly has."""
    blocks = [{"type": "text", "text": str(k)} for k in range(20000)]
    return json.dumps({"model": "claude-opus-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": blocks}]})


def images() -> bytes:
    """Eight 3 MiB base64 images: few tokens, long strings, the body limit's size."""
    data = base64.b64encode(os.urandom(3 << 20)).decode()
    block = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}
    body = {"max_tokens": 8, "messages": [{"role": "user", "content": [block] * 8}], "model": "claude-opus-4-5"}
    return json.dumps(body).encode()


def best(fn: Callable[[bytes], object], body: bytes) -> float:
    """Seconds per call, best of 5 runs."""
    number = max(1, int(2e6 // max(len(body), 1000)))
    return min(timeit.repeat(lambda: fn(body), number=number, repeat=5)) / number


def main() -> None:
    bodies = {
        "Claude Code-like, 1 MiB": claude_code_like(1 << 20),
        "20,000 text blocks": many_tokens().encode(),
        "8 base64 images, 32 MiB": images(),
        "one short message": b'{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
    }
    for body in bodies.values():
        assert scan(body)[0] == parse(body)[0] and scan(body)[1] == parse(body)[1]
    print("| body | size | scan (Python) | parse (json, C) | old regex (wrong) |")
    print("|---|---|---|---|---|")
    for name, body in bodies.items():
        cells = []
        for fn in (scan, parse, old_regex):
            t = best(fn, body)
            cells.append(f"{t * 1e3:.2f} ms" if t >= 1e-3 else f"{t * 1e6:.1f} µs")
        size = f"{len(body) / (1 << 20):.1f} MiB" if len(body) >= 1 << 20 else f"{len(body)} B"
        print(f"| {name} | {size} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
