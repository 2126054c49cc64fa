"""Tool calls an agent can live with: schema-typed inputs, the tool the prompt names, one round trip then text."""

from __future__ import annotations

from typing import Any

import anthropic
import jsonschema
import pytest
from anthropic import beta_tool

from claudewire.sim import SimServer
from claudewire.sim.toolcall import choose_tool, sample_input
from tests.conftest import SIM_KEY, SIM_MODEL

NESTED = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 12},
        "count": {"type": "integer", "minimum": 3, "maximum": 9},
        "ratio": {"type": "number", "exclusiveMaximum": 0},
        "force": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["fast", "slow"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "when": {"type": "string", "format": "date-time"},
        "limits": {
            "type": "object",
            "properties": {"depth": {"type": "integer"}, "note": {"type": "string"}},
            "required": ["depth"],
        },
        "target": {"$ref": "#/$defs/target"},
        "maybe": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 5}]},
        "optional": {"type": "string"},
    },
    "required": ["path", "count", "ratio", "force", "mode", "tags", "when", "limits", "target", "maybe"],
    "$defs": {"target": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}},
}
BASH = {
    "name": "Bash",
    "input_schema": {
        "type": "object",
        "properties": {
            "command": {"type": "string"},
            "timeout": {"type": "number"},
            "run_in_background": {"type": "boolean"},
        },
        "required": ["command"],
    },
}
READ = {
    "name": "Read",
    "input_schema": {
        "type": "object",
        "properties": {"file_path": {"type": "string"}, "offset": {"type": "integer"}},
        "required": ["file_path"],
    },
}
TOOLS = [BASH, READ]


def client(sim: SimServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key=SIM_KEY, max_retries=0)


def _body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": SIM_MODEL, "max_tokens": 256, "tools": TOOLS, "messages": list(messages), **extra}


def _use(tool_id: str = "toolu_1", name: str = "Bash") -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": name, "input": {}}]}


def _result(tool_id: str = "toolu_1") -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}]}


REMINDER = {"type": "text", "text": "<system-reminder>Read and Bash are available; use TodoWrite.</system-reminder>"}


def test_sample_input_fills_required_fields_with_schema_types() -> None:
    """Each required field gets a value of its declared type that a JSON Schema validator accepts; optionals none."""
    value = sample_input({"name": "t", "input_schema": NESTED})
    jsonschema.validate(value, NESTED)
    assert set(value) == set(NESTED["required"])
    assert isinstance(value["count"], int) and 3 <= value["count"] <= 9
    assert isinstance(value["force"], bool) and value["mode"] == "fast" and len(value["tags"]) == 2
    assert value["limits"] == {"depth": 1} and value["target"] == {"id": 1} and value["maybe"] == 5


def test_sample_input_of_a_schema_naming_no_required_fields_fills_them_all() -> None:
    """A schema with no `required` list gets every property filled (a model fills what it is shown)."""
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}
    assert sample_input({"name": "w", "input_schema": schema}) == {"city": "example", "days": 1}


def test_anthropic_defined_client_tools_get_their_executors_input() -> None:
    """bash / text editor tools (no input_schema) are called with the input their executors expect."""
    body = _body({"role": "user", "content": "go"}, tools=[{"type": "bash_20250124", "name": "bash"}])
    tool = choose_tool(body)
    assert tool is not None and sample_input(tool) == {"command": "echo example"}


def test_the_tool_the_prompt_names_is_called() -> None:
    """The latest user text naming a tool (any case, whole word) picks it over the first tool offered."""
    assert choose_tool(_body({"role": "user", "content": "please read the README"})) == READ
    assert choose_tool(_body({"role": "user", "content": "say hello"})) == BASH  # none named: the first


def test_tools_named_only_in_a_system_reminder_do_not_count() -> None:
    """Tool names inside a <system-reminder> block are not the user's request."""
    body = _body({"role": "user", "content": [{"type": "text", "text": "hello"}, REMINDER]})
    assert choose_tool(body) == BASH


def test_a_tool_result_behind_trailing_user_text_is_seen() -> None:
    """tool_result then a folded <system-reminder> user message: the tool answered, so the model answers text."""
    body = _body({"role": "user", "content": "run it"}, _use(), _result(), {"role": "user", "content": [REMINDER]})
    assert choose_tool(body) is None
    folded_turn = {"role": "user", "content": [*_result()["content"], REMINDER]}
    folded = _body({"role": "user", "content": "run it"}, _use(), folded_turn)
    assert choose_tool(folded) is None


def test_a_new_user_turn_after_a_round_trip_calls_a_tool_again() -> None:
    """After the assistant answered in text, a fresh user request starts a new tool call."""
    done = {"role": "assistant", "content": "done"}
    body = _body({"role": "user", "content": "x"}, _use(), _result(), done, {"role": "user", "content": "now Read"})
    assert choose_tool(body) == READ


def test_a_later_turn_naming_no_tool_gets_text() -> None:
    """A harness's own user turn (a finished background agent's notice) names no tool: text, not another call."""
    notice = "<task-notification>agent a1 finished; it used Agent and Bash</task-notification>"
    done = {"role": "assistant", "content": "started"}
    body = _body({"role": "user", "content": "hello"}, _use(), _result(), done, {"role": "user", "content": notice})
    assert choose_tool(body) is None
    assert choose_tool(_body({"role": "user", "content": "hello"})) == BASH  # the opening turn still calls one


def test_tool_choice_is_obeyed() -> None:
    """tool_choice none: no call; tool: that tool even after a tool_result; any: a call even then."""
    turn = ({"role": "user", "content": "x"}, _use(), _result())
    assert choose_tool(_body({"role": "user", "content": "Read"}, tool_choice={"type": "none"})) is None
    assert choose_tool(_body(*turn, tool_choice={"type": "tool", "name": "Read"})) == READ
    assert choose_tool(_body(*turn, tool_choice={"type": "any"})) == BASH


def test_server_tools_are_not_called_by_the_client_side_model() -> None:
    """Only server tools offered (web_search): the model answers text, it has nothing for the client to run."""
    body = _body({"role": "user", "content": "search"}, tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert choose_tool(body) is None


def test_the_sdk_tool_runner_loop_calls_once_with_typed_arguments_and_ends(sim: SimServer) -> None:
    """The SDK's own agent loop (tool_runner): one typed call its pydantic validation accepts, then end_turn."""
    calls: list[tuple[int, float, list[str], bool]] = []

    @beta_tool
    def add(a: int, b: float, tags: list[str], exact: bool) -> str:
        """Add two numbers.

        Args:
            a: the first addend
            b: the second addend
            tags: labels for the sum
            exact: whether to round
        """
        calls.append((a, b, tags, exact))
        return str(a + b)

    runner = client(sim).beta.messages.tool_runner(
        model=SIM_MODEL, max_tokens=256, tools=[add], max_iterations=4, messages=[{"role": "user", "content": "add"}]
    )
    replies = list(runner)
    assert calls == [(1, 1.0, [], False)]
    assert [m.stop_reason for m in replies] == ["tool_use", "end_turn"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_claude_code_style_turn_ends_after_one_tool_call(sim: SimServer, stream: bool) -> None:
    """Claude Code's shape (tools, reminder folded after the tool_result): tool_use once, then text with end_turn."""
    c = client(sim)
    first = [{"role": "user", "content": [{"type": "text", "text": "Read the notes"}, REMINDER]}]

    def ask(messages: list[dict[str, Any]]) -> anthropic.types.Message:
        if not stream:
            return c.messages.create(model=SIM_MODEL, max_tokens=256, tools=TOOLS, messages=messages)  # type: ignore[arg-type]
        with c.messages.stream(model=SIM_MODEL, max_tokens=256, tools=TOOLS, messages=messages) as s:  # type: ignore[arg-type]
            return s.get_final_message()

    call = ask(first)
    assert call.stop_reason == "tool_use"
    block = call.content[0]
    assert block.type == "tool_use" and block.name == "Read" and block.input == {"file_path": "example"}
    follow = [
        *first,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True)]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "notes"}]},
        {"role": "user", "content": [REMINDER]},
    ]
    answer = ask(follow)
    assert answer.stop_reason == "end_turn" and answer.content[0].type == "text"
