"""What a request body says at its top level: its ``model`` and whether it asks for a stream, never a nested key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claudewire._sse import request_fields, request_model, request_stream

HISTORY = [
    {"role": "user", "content": "pick one"},
    {
        "role": "assistant",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "pick",
                "input": {"model": "claude-haiku-4-5", "stream": True},
            }
        ],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": '"stream": true'}]},
]


@pytest.mark.parametrize(
    ("body", "model", "stream"),
    [
        ({"model": "claude-opus-4-5", "max_tokens": 8, "messages": HISTORY}, "claude-opus-4-5", False),
        ({"max_tokens": 8, "messages": HISTORY, "model": "claude-opus-4-5"}, "claude-opus-4-5", False),
        ({"max_tokens": 8, "messages": HISTORY, "model": "claude-opus-4-5", "stream": True}, "claude-opus-4-5", True),
        ({"max_tokens": 8, "messages": HISTORY}, None, False),
        ({"model": "m", "stream": "true"}, "m", False),
        ({"model": 7, "stream": 1}, None, False),
        ({"metadata": {"model": "x", "stream": True}, "tools": [{"model": "y"}]}, None, False),
    ],
)
def test_only_top_level_model_and_stream_count(body: dict[str, Any], model: str | None, stream: bool) -> None:
    """A tool input or tool result holding "model" or "stream": true is not the request's model or stream."""
    raw = json.dumps(body).encode()
    assert request_model(raw) == model
    assert request_stream(raw) is stream
    assert request_fields(raw).model == model and request_fields(raw).stream is stream


def test_the_model_after_a_large_history_is_still_read() -> None:
    """SDKs put `model` after `messages`: it is found however long the history before it (it was not past 256 KiB)."""
    body = {"max_tokens": 8, "messages": [{"role": "user", "content": "x" * (2 << 20)}], "model": "claude-opus-4-5"}
    assert request_model(json.dumps(body).encode()) == "claude-opus-4-5"


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b'["model", "stream"]', b'{"model": "m", "stream": true', b"[" * 100000, b'"model"'],
)
def test_a_body_that_is_not_a_json_object_names_nothing(raw: bytes) -> None:
    """Not JSON, truncated, an array, nested past the parser's depth: no model and no stream, and no exception."""
    assert request_model(raw) is None
    assert request_stream(raw) is False


_KEYS = st.sampled_from(["model", "stream", "messages", "max_tokens", "input", "x"])
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.sampled_from(["m1", "claude-x"]))
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(body=st.dictionaries(_KEYS, _VALUES, max_size=5), indent=st.sampled_from([None, 1, "\t"]))
def test_fields_agree_with_a_parse_of_the_top_level_object(body: dict[str, Any], indent: int | str | None) -> None:
    """For any JSON object, however nested and spaced: the model is its top-level string, stream its top-level true."""
    raw = json.dumps(body, indent=indent).encode()
    model = body.get("model")
    assert request_model(raw) == (model if isinstance(model, str) and 0 < len(model) <= 100 else None)
    assert request_stream(raw) is (body.get("stream") is True)
