"""The rules that depend on the model and on anthropic-version, with the API's wording, and through real clients."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest

from claudewire._models import Catalogue
from claudewire.sim import SimServer
from claudewire.sim.rules import check_model_rules
from claudewire.sim.validation import BodyError
from tests.conftest import SIM_KEY

HELLO = [{"role": "user", "content": "Hello"}]
USE_ADAPTIVE = 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
OLD, NEW = "2023-06-01", "2026-10-21"


def _refusal(model: str, extra: dict[str, Any], version: str = OLD) -> str | None:
    """The message `model` refuses the body with under `version`, None if it passes."""
    body = {"model": model, "max_tokens": 1024, "messages": HELLO, **extra}
    try:
        check_model_rules(body, Catalogue().get(model), version)
    except BodyError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    ("model", "extra", "wording"),
    [
        ("claude-opus-5", {"thinking": {"type": "enabled", "budget_tokens": 2048}},
         f'"thinking.type.enabled" is not supported for this model. {USE_ADAPTIVE}'),
        ("claude-sonnet-5", {"thinking": {"type": "enabled", "budget_tokens": 2048}},
         f'"thinking.type.enabled" is not supported for this model. {USE_ADAPTIVE}'),
        ("claude-fable-5", {"thinking": {"type": "enabled", "budget_tokens": 2048}},
         f'"thinking.type.enabled" is not supported for this model. {USE_ADAPTIVE}'),
        ("claude-opus-5-5", {"thinking": {"type": "disabled"}},
         f'"thinking.type.disabled" is not supported for this model. {USE_ADAPTIVE}'),
        ("claude-sonnet-5-5", {"thinking": {"type": "disabled"}},
         'To turn thinking off on this model, send "thinking": {"type": "between_tools"} instead of'),
        ("claude-sonnet-5-5", {"thinking": {"type": "between_tools"}, "output_config": {"effort": "max"}},
         "output_config.effort 'max' is not supported when thinking is disabled on this model. Use effort 'high'"),
        ("claude-opus-5", {"thinking": {"type": "between_tools"}},
         "thinking.type.between_tools is not supported for this model."),
        ("claude-haiku-4-5", {"thinking": {"type": "adaptive"}}, "adaptive thinking is not supported on this model"),
        ("claude-haiku-4-5", {"output_config": {"effort": "high"}},
         "This model does not support the effort parameter."),
        ("claude-opus-4-6", {"output_config": {"effort": "xhigh"}},
         "output_config.effort: Input should be one of low, medium, high, max"),
        ("claude-opus-4-7", {"temperature": 0.5}, "`temperature` is deprecated for this model."),
        ("claude-opus-4-7", {"temperature": 0}, "`temperature` is deprecated for this model."),
        ("claude-sonnet-5-5", {"top_p": 1.0}, "`top_p` is deprecated for this model."),
        ("claude-haiku-5-5", {"top_k": 5}, "`top_k` is deprecated for this model."),
        ("claude-opus-5-5", {"tools": [{"name": "f", "input_schema": {}}], "tool_choice": {"type": "any"}},
         'tool_choice: type "tool" and "any" are not supported for this model.'),
    ],
)  # fmt: skip
def test_a_model_refuses_what_it_does_not_take(model: str, extra: dict[str, Any], wording: str) -> None:
    """Thinking modes, effort levels, sampling parameters and forced tool choice each get the API's own 400."""
    refusal = _refusal(model, extra)
    assert refusal is not None and refusal.startswith(wording)


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("claude-opus-5-5", {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
        ("claude-opus-5", {"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}),
        ("claude-sonnet-5-5", {"thinking": {"type": "between_tools"}, "output_config": {"effort": "high"}}),
        ("claude-opus-4-6", {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ("claude-sonnet-4-6", {"thinking": {"type": "adaptive"}, "temperature": 0.2, "top_k": 5}),
        ("claude-haiku-4-5", {"thinking": {"type": "enabled", "budget_tokens": 2048}, "top_p": 0.9}),
        ("claude-opus-4-7", {"temperature": 1}),
        ("claude-opus-4-8", {"tools": [{"name": "f", "input_schema": {}}],
                             "tool_choice": {"type": "tool", "name": "f"}}),
    ],
)  # fmt: skip
def test_what_a_model_takes_passes(model: str, extra: dict[str, Any]) -> None:
    """Adaptive thinking with an effort the model has, thinking off where it can be, a budget on the models that
    keep one, sampling on the 4.6 and 4.5 models, temperature 1 (its default) on Opus 4.7 all pass."""
    assert _refusal(model, extra) is None


@pytest.mark.parametrize(
    ("messages", "wording"),
    [
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "system", "content": "s"}],
         "messages.2: a system message must follow a user message"),
        ([{"role": "user", "content": "q"}, {"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
         "messages.1: a system message must be the last message or be followed by an assistant message"),
    ],
)  # fmt: skip
def test_a_system_turn_is_placed_as_the_api_places_it(messages: list[dict[str, Any]], wording: str) -> None:
    """A system turn follows a user turn and is last or followed by an assistant turn."""
    assert _refusal("claude-opus-5-5", {"messages": messages}) == wording


def test_system_turns_are_judged_by_the_model() -> None:
    """Opus 4.8 and the Claude 5 models take mid-conversation system turns (a run of them placed as one, and after
    an assistant turn ending in server_tool_use); Sonnet 5 and the 4.7-and-older models refuse them."""
    turns = [
        {"role": "user", "content": "q"},
        {"role": "system", "content": "one"},
        {"role": "system", "content": "two"},
        {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}]},
        {"role": "system", "content": "three"},
    ]
    for model in ("claude-opus-4-8", "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-2"):
        assert _refusal(model, {"messages": turns}) is None, model
    for model in ("claude-sonnet-5", "claude-opus-4-7", "claude-sonnet-4-6", "claude-haiku-4-5"):
        assert _refusal(model, {"messages": turns}) == "role 'system' is not supported on this model", model


@pytest.mark.parametrize(
    ("extra", "wording"),
    [
        ({"temperature": 1}, "temperature: Extra inputs are not permitted"),
        ({"top_p": 0.9}, "top_p: Extra inputs are not permitted"),
        ({"messages": [*HELLO, {"role": "assistant", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}]}]},
         "messages.1.content.0: document blocks are not allowed in assistant messages"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "t", "citations": [
            {"type": "char_location", "cited_text": "t", "document_index": 0, "start_char_index": 0,
             "end_char_index": 1}]}]}]},
         "messages.0.content.0.citations: citations are not allowed on text blocks in user messages"),
    ],
)  # fmt: skip
def test_version_2026_10_21_removes_what_it_removed(extra: dict[str, Any], wording: str) -> None:
    """With anthropic-version 2026-10-21, Haiku 4.5 (which takes sampling on 2023-06-01) refuses temperature even at
    its default, and any model refuses a document in an assistant turn and citations on user text."""
    assert _refusal("claude-haiku-4-5", extra, NEW) == wording
    assert _refusal("claude-haiku-4-5", extra, OLD) is None


def _client(sim: SimServer, version: str | None = None) -> anthropic.Anthropic:
    headers = {"anthropic-version": version} if version else None
    return anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0, default_headers=headers)


def test_the_sdk_gets_the_adaptive_thinking_400(sim: SimServer) -> None:
    """The official SDK asking Opus 5 for a thinking budget gets a BadRequestError with the API's wording."""
    with pytest.raises(anthropic.BadRequestError) as info:
        _client(sim).messages.create(
            model="claude-opus-5", max_tokens=4096, messages=HELLO, thinking={"type": "enabled", "budget_tokens": 2048}
        )
    assert info.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert info.value.body["error"]["message"].startswith('"thinking.type.enabled" is not supported')  # type: ignore[index]
    reply = _client(sim).messages.create(
        model="claude-opus-5", max_tokens=4096, messages=HELLO, thinking={"type": "adaptive"},
        output_config={"effort": "xhigh"},
    )  # fmt: skip
    assert reply.stop_reason == "end_turn"


@pytest.mark.parametrize("version", [None, OLD], ids=["sdk-default-2026-10-21", "2023-06-01"])
def test_both_versions_are_served(sim: SimServer, version: str | None) -> None:
    """The SDK's own version (2026-10-21) and 2023-06-01 (which Claude Code still sends) are both accepted."""
    reply = _client(sim, version).messages.create(model="claude-haiku-4-5", max_tokens=16, messages=HELLO)
    assert reply.content
    sent = sim.requests[-1].headers["anthropic-version"]
    assert sent == (version or NEW)


def test_sampling_depends_on_version_and_model(sim: SimServer) -> None:
    """Through the SDK (2026-10-21) a temperature is refused on any model; on 2023-06-01 Opus 4.7 refuses a
    non-default temperature while Haiku 4.5 takes it."""
    with pytest.raises(anthropic.BadRequestError, match="temperature: Extra inputs are not permitted"):
        _client(sim).messages.create(
            model="claude-haiku-4-5", max_tokens=16, messages=HELLO, extra_body={"temperature": 1}
        )
    headers = {"x-api-key": SIM_KEY, "anthropic-version": OLD}
    url = f"{sim.base_url}/v1/messages"

    def post(model: str, temperature: float) -> httpx2.Response:
        body = {"model": model, "max_tokens": 16, "messages": HELLO, "temperature": temperature}
        return httpx2.post(url, json=body, headers=headers, timeout=10)

    refused = post("claude-opus-4-7", 0.5)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "`temperature` is deprecated for this model."
    assert post("claude-opus-4-7", 1).status_code == 200
    assert post("claude-haiku-4-5", 0.5).status_code == 200


def test_claude_code_2_1_332_turns_pass(sim: SimServer) -> None:
    """The two requests Claude Code 2.1.332 sends with no model pinned (captured from `claude -p` against the
    simulator: claude-opus-5-5, max_tokens 128000, adaptive thinking at effort medium, a system turn after the
    prompt, then the tool loop's next turn) are 200, where its first used to be 404 and then 400 messages.1.role."""
    first = [
        {"role": "user", "content": [{"type": "text", "text": "say pong"}]},
        {"role": "system", "content": [{"type": "text", "text": "# Environment\nYou have been invoked in ..."}]},
    ]
    second = [*first, {"role": "assistant", "content": "pong"}, {"role": "user", "content": "again"}]
    headers = {
        "x-api-key": SIM_KEY,
        "anthropic-version": OLD,
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
        "per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,"
        "advanced-tool-use-2025-11-20,effort-2025-11-24",
    }
    for messages in (first, second):
        body = {
            "model": "claude-opus-5-5",
            "max_tokens": 128_000,
            "thinking": {"type": "adaptive", "display": "omitted"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "medium"},
            "messages": messages,
        }
        answer = httpx2.post(f"{sim.base_url}/v1/messages", json=body, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
