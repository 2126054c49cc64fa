"""Scripted replies: run_sim(replies=...) serves a test's answers in order, as JSON and as streams."""

from __future__ import annotations

import anthropic
import pytest

from claudewire.sim import SimConfig
from claudewire.testing import ToolCall, run_sim
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)


def test_scripted_replies_are_served_in_order_then_the_default() -> None:
    """Text, a tool call, text again, then the unscripted reply once the script runs out."""
    script = ["First answer.", ToolCall("get_weather", {"city": "Paris", "days": 3}), "Sunny in Paris."]
    with run_sim(replies=script) as sim:
        c = client(sim.base_url)
        got = [c.messages.create(model=SIM_MODEL, max_tokens=64, messages=HELLO) for _ in range(4)]
        left = sim.replies_left
    assert got[0].content[0].type == "text" and got[0].content[0].text == "First answer."
    assert got[0].stop_reason == "end_turn" and got[0].usage.output_tokens == 2
    call = got[1].content[0]
    assert got[1].stop_reason == "tool_use"
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"city": "Paris", "days": 3}
    assert got[2].content[0].type == "text" and got[2].content[0].text == "Sunny in Paris."
    assert got[3].content[0].type == "text" and "claudewire simulator" in got[3].content[0].text
    assert left == 0


def test_scripted_replies_stream_as_deltas() -> None:
    """A streamed scripted text arrives word by word; a streamed scripted tool call assembles its input."""
    with run_sim(replies=["one two three", ToolCall("lookup", {"q": "x" * 40, "n": [1, 2]})]) as sim:
        c = client(sim.base_url)
        with c.messages.stream(model=SIM_MODEL, max_tokens=64, messages=HELLO) as stream:
            pieces = list(stream.text_stream)
        with c.messages.stream(model=SIM_MODEL, max_tokens=64, messages=HELLO) as stream:
            tool = stream.get_final_message()
    assert pieces == ["one", " two", " three"]
    assert tool.stop_reason == "tool_use"
    assert tool.content[0].type == "tool_use" and tool.content[0].input == {"q": "x" * 40, "n": [1, 2]}


def test_a_refused_request_consumes_no_scripted_reply() -> None:
    """A 400 (bad body) and a 529 fault leave the script where it was: the next good call gets the first reply."""
    with run_sim(replies=["scripted"], faults=["529:1.0,count=1"], seed=0) as sim:
        c = client(sim.base_url)
        with pytest.raises(anthropic.InternalServerError):
            c.messages.create(model=SIM_MODEL, max_tokens=64, messages=HELLO)
        with pytest.raises(anthropic.BadRequestError):
            c.messages.create(model=SIM_MODEL, max_tokens=0, messages=HELLO)
        answer = c.messages.create(model=SIM_MODEL, max_tokens=64, messages=HELLO)
    assert answer.content[0].type == "text" and answer.content[0].text == "scripted"


def test_set_replies_rescripts_a_running_simulator_and_text_is_cut_at_max_tokens() -> None:
    """set_replies replaces the script mid-test; a scripted text longer than max_tokens stops at max_tokens."""
    with run_sim(replies=["unused"]) as sim:
        sim.set_replies(["a b c d e"])
        answer = client(sim.base_url).messages.create(model=SIM_MODEL, max_tokens=2, messages=HELLO)
    assert answer.content[0].type == "text" and answer.content[0].text == "a b"
    assert answer.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("replies", "needle"),
    [([""], "replies[0]"), ([42], "replies[0]"), (["ok", None], "replies[1]")],
)
def test_bad_scripted_replies_are_refused_at_config_time(replies: list[object], needle: str) -> None:
    """An empty string or a non-reply in `replies` is a ValueError naming its index."""
    with pytest.raises(ValueError, match=needle.replace("[", r"\[")):
        SimConfig(port=0, replies=replies)  # type: ignore[arg-type]


def test_a_tool_call_input_must_be_a_json_object() -> None:
    """ToolCall refuses an input that is not a JSON-serialisable mapping."""
    with pytest.raises(ValueError, match="JSON object"):
        ToolCall("t", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="JSON-serialisable"):
        ToolCall("t", {"when": object()})
