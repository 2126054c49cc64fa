"""The API's rules that depend on the model and on ``anthropic-version``, with its wording. Pure functions.

`claudewire.sim.validation` checks a body's shape; these check what the named model takes (`ClaudeModel`'s
capabilities, from the real lineup) and what the requested API version allows:

- thinking: ``enabled`` (a budget) only where the model takes it, ``adaptive`` only where it takes that, thinking
  off only the way the model turns it off, and effort capped at ``high`` with thinking off where the model says so;
- ``output_config.effort``: a level the model has, or none on a model without the parameter;
- sampling: with ``2023-06-01`` a model of the Opus 4.7+ generation refuses a non-default ``temperature`` and any
  ``top_p`` / ``top_k``; ``2026-10-21`` removed the three parameters for every model;
- ``2026-10-21`` also refuses ``document`` blocks in assistant turns and ``citations`` on user text;
- forced ``tool_choice`` (``any`` / ``tool``) where the model refuses it;
- mid-conversation ``role: "system"`` turns: on models that take them (no beta header needed), after a user turn
  (or an assistant turn ending in ``server_tool_use``), and last or followed by an assistant turn.

Wording: quoted from the API's answers where the docs or published probes print them; where they print only the
rule (the two ``2026-10-21`` content rules, the placement rules), the message says the rule in the API's style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from claudewire._models import EFFORTS, ClaudeModel, Thinking, ThinkingOff
from claudewire.sim.validation import BodyError

__all__ = ["VERSION_2026_10_21", "check_model_rules"]

VERSION_2026_10_21 = "2026-10-21"
"""The ``anthropic-version`` that removed the sampling parameters (SDK majors from Python 2.0.0 send it)."""

_USE_ADAPTIVE = 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
_BETWEEN_TOOLS = (
    'To turn thinking off on this model, send "thinking": {"type": "between_tools"} instead of {"type": "disabled"}. '
    "The model does not think before responding. The short updates it writes between tool calls come back as "
    "thinking blocks."
)
_SAMPLING = ("temperature", "top_p", "top_k")


def _effort(body: Mapping[str, Any]) -> str | None:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, Mapping) else None
    return effort if isinstance(effort, str) else None


def _check_effort(body: Mapping[str, Any], model: ClaudeModel) -> None:
    effort = _effort(body)
    if effort is None:
        return
    if effort not in EFFORTS:
        raise BodyError("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
    if not model.efforts:
        raise BodyError("This model does not support the effort parameter.")
    if effort not in model.efforts:
        raise BodyError(f"output_config.effort: Input should be one of {', '.join(model.efforts)}")


def _check_thinking(body: Mapping[str, Any], model: ClaudeModel) -> None:
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if kind == "enabled" and not model.thinking.budgeted:
        if model.thinking is Thinking.NONE:
            raise BodyError("thinking: extended thinking is not supported on this model")
        raise BodyError(f'"thinking.type.enabled" is not supported for this model. {_USE_ADAPTIVE}')
    if kind == "adaptive" and not model.thinking.adaptive:
        raise BodyError("adaptive thinking is not supported on this model")
    if kind == "disabled" and model.thinking is not Thinking.NONE:
        if model.thinking_off is ThinkingOff.NEVER:
            raise BodyError(f'"thinking.type.disabled" is not supported for this model. {_USE_ADAPTIVE}')
        if model.thinking_off is ThinkingOff.BETWEEN_TOOLS:
            raise BodyError(_BETWEEN_TOOLS)
    if kind == "between_tools" and model.thinking_off is not ThinkingOff.BETWEEN_TOOLS:
        raise BodyError("thinking.type.between_tools is not supported for this model.")
    effort = _effort(body)
    off = kind in ("disabled", "between_tools")
    cap = model.off_effort_cap
    if off and cap is not None and effort in EFFORTS and EFFORTS.index(effort) > EFFORTS.index(cap):
        raise BodyError(
            f"output_config.effort '{effort}' is not supported when thinking is disabled on this model. "
            f"Use effort '{cap}' or below."
        )


def _check_sampling(body: Mapping[str, Any], model: ClaudeModel | None, version: str | None) -> None:
    for name in _SAMPLING:
        if name not in body:
            continue
        if version == VERSION_2026_10_21:
            raise BodyError(f"{name}: Extra inputs are not permitted")  # removed from the request schema
        # measured: temperature 1.0 (its default) passes, top_p and top_k are refused at any value
        if model is not None and not model.sampling and (name != "temperature" or body[name] != 1):
            raise BodyError(f"`{name}` is deprecated for this model.")


def _blocks(message: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [(j, b) for j, b in enumerate(content) if isinstance(b, Mapping)]


def _check_2026_10_21_content(messages: Sequence[Any]) -> None:
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        for j, block in _blocks(message):
            where = f"messages.{i}.content.{j}"
            if role == "assistant" and block.get("type") == "document":
                raise BodyError(f"{where}: document blocks are not allowed in assistant messages")
            if role != "user":
                continue
            texts = [(where, block)] if block.get("type") == "text" else []
            if block.get("type") == "search_result" and isinstance(block.get("content"), list):
                texts = [(f"{where}.content.{k}", t) for k, t in enumerate(block["content"]) if isinstance(t, Mapping)]
            for place, text in texts:
                if text.get("citations"):  # an empty list or null is still accepted
                    raise BodyError(f"{place}.citations: citations are not allowed on text blocks in user messages")


def _ends_in_server_tool_use(message: Mapping[str, Any]) -> bool:
    blocks = _blocks(message)
    return bool(blocks) and blocks[-1][1].get("type") == "server_tool_use"


def _check_system_turns(messages: Sequence[Any], model: ClaudeModel) -> None:
    roles = [m.get("role") if isinstance(m, Mapping) else None for m in messages]
    i = 0
    while i < len(roles):
        if roles[i] != "system" or i == 0:  # a first system message is refused by the schema check
            i += 1
            continue
        if not model.mid_conversation_system:
            raise BodyError("role 'system' is not supported on this model")
        end = i
        while end + 1 < len(roles) and roles[end + 1] == "system":  # a run of system turns is placed as one
            end += 1
        before = messages[i - 1]
        if not (roles[i - 1] == "user" or (roles[i - 1] == "assistant" and _ends_in_server_tool_use(before))):
            raise BodyError(f"messages.{i}: a system message must follow a user message")
        if end + 1 < len(roles) and roles[end + 1] != "assistant":
            raise BodyError(
                f"messages.{i}: a system message must be the last message or be followed by an assistant message"
            )
        i = end + 1


def _check_tool_choice(body: Mapping[str, Any], model: ClaudeModel) -> None:
    choice = body.get("tool_choice")
    if not model.forced_tool_choice and isinstance(choice, Mapping) and choice.get("type") in ("any", "tool"):
        raise BodyError('tool_choice: type "tool" and "any" are not supported for this model.')


def check_model_rules(body: Mapping[str, Any], model: ClaudeModel | None, version: str | None = None) -> None:
    """Raise `BodyError` with the API's wording if `model` (None: no model rules) or `version` refuses `body`.

    Run after the shape checks: `body` is a well-formed Messages body.
    """
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    if version == VERSION_2026_10_21:
        _check_2026_10_21_content(messages)
    _check_sampling(body, model, version)
    if model is None:
        return
    _check_system_turns(messages, model)
    _check_thinking(body, model)
    _check_effort(body, model)
    _check_tool_choice(body, model)
