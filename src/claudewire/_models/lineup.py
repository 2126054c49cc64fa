"""The Claude model lineup as of 2026-12-07: every model the API serves, has deprecated, or has retired.

Sources, per field (platform.claude.com, as stored by the search corpus; third-party probes where the docs print no
rule or wording):

- ids, release dates, context windows and max output: each model's overview page and the models overview
  ("Context window: 1M tokens · Max output: 128K tokens"; Sonnet 4.6 is 1M / 128K, the 4.5 models 200K / 64K);
  Opus 4.8's date from Vertex AI's model card (May 28, 2026), Sonnet 5.5's (Sep 28, 2026) from its release notes.
- lifecycle: the model-deprecations page (Opus 4.5 deprecated 2026-11-23, retiring 2027-01-22, replacement Opus 5.5;
  Sonnet 4.5 retired 2026-11-30, replacement Sonnet 5.5; Mythos Preview "is deprecated", successor Mythos 5, no
  dates published; Sonnet 4 and Opus 4 retired 2026-06-15; Opus 4.1 retired 2026-08-05). "Legacy" models (Opus 5,
  Sonnet 5, Fable 5, Sonnet 4.6 ...) are still active.
- thinking: the thinking-troubleshooting page ("Claude Opus 4.7, Claude Opus 4.8, Claude Sonnet 5, Claude Fable 5,
  and Claude Mythos 5 ... reject" extended thinking; "Claude Mythos Preview supports both modes"; the 4.5 models take
  extended thinking only) and each overview's Thinking column ("Adaptive (always on)": thinking cannot be disabled).
  Sonnet 5.5 turns thinking off only with ``between_tools``; Opus 5 and Haiku 5.5 allow it only at effort high or
  below (the Opus 5 overview; Haiku 5.5 per relayed API answers).
- effort: the effort page (Opus 4.5 low-high; Opus 4.6 and Sonnet 4.6 add max; xhigh from Opus 4.7; Sonnet 4.5 and
  Haiku 4.5 take none).
- sampling: non-default temperature (any top_p / top_k) is refused on Opus 4.7 and later and the whole Claude 5
  family (Sonnet 5's overview; probed per model by third parties, Haiku 5.5 included).
- forced tool_choice: refused on Opus 5.5, Sonnet 5.5 and Fable 5.1 (their overviews' breaking changes); assumed
  for Mythos 5.1 and the 5.2 pair, which share Fable 5.1's changes.
- mid-conversation system messages: Fable 5 / 5.1, Mythos 5 / 5.1, Opus 4.8, Opus 5, Opus 5.5, Sonnet 5.5 and
  Haiku 5.5, not Sonnet 5 (the mid-conversation-system-messages page); the 5.2 pair is assumed to keep it.
- fast mode: the fast-mode page (GA on Opus 5.5, Fable 5.2, Mythos 5.2; research preview on Opus 5, deprecated on
  Opus 4.8, both behind the fast-mode-2026-02-01 beta).

Where no page says (Mythos Preview's context window and sampling, Haiku 5.5's extended thinking), the value is the
one the installed SDK's types and the model's generation imply; each such line says so.
"""

from __future__ import annotations

from typing import Any

from claudewire._models.spec import (
    EFFORTS_4_5,
    EFFORTS_4_6,
    ClaudeModel,
    FastMode,
    Lifecycle,
    Thinking,
    ThinkingOff,
)

__all__ = ["LINEUP"]

R = Lifecycle.RETIRED
NEVER, BETWEEN = ThinkingOff.NEVER, ThinkingOff.BETWEEN_TOOLS


def _day(date: str) -> str:
    return f"{date}T00:00:00Z"


def _gen5(model_id: str, name: str, released: str, line: str, **kw: Any) -> ClaudeModel:
    """A model of the Opus 4.7+ generation: 1M context, 128K output, adaptive thinking only, no sampling knobs."""
    kw.setdefault("thinking", Thinking.ADAPTIVE)
    kw.setdefault("sampling", False)
    return ClaudeModel(model_id, name, _day(released), line=line, max_input_tokens=1_000_000, max_tokens=128_000, **kw)


def _retired(model_id: str, name: str, released: str, line: str | None, retired: str, **kw: Any) -> ClaudeModel:
    """A model the API no longer serves (the listing keeps it as the record of its retirement)."""
    deprecated = kw.pop("deprecated", None)
    kw.setdefault("thinking", Thinking.NONE)
    kw.setdefault("efforts", ())
    kw.setdefault("mid_conversation_system", False)
    return ClaudeModel(
        model_id,
        name,
        _day(released),
        R,
        line=line,
        deprecated_at=_day(deprecated) if deprecated else None,
        retires_at=_day(retired),
        **kw,
    )


LINEUP: tuple[ClaudeModel, ...] = (
    # --- the Claude 5 family -----------------------------------------------------------------------------------------
    _gen5("claude-fable-5-2", "Claude Fable 5.2", "2026-11-09", "fable", thinking_off=NEVER,
          forced_tool_choice=False, fast_mode=FastMode.GA),
    _gen5("claude-mythos-5-2", "Claude Mythos 5.2", "2026-11-09", "mythos", thinking_off=NEVER,
          forced_tool_choice=False, fast_mode=FastMode.GA),
    # Haiku 5.5's overview names adaptive thinking with effort only; extended thinking is taken as refused, as on
    # every other model of its generation (a published GET /v1/models probe shows thinking.types.enabled false on
    # exactly the models that refuse it)
    _gen5("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07", "haiku", off_effort_cap="high"),
    _gen5("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-09-28", "sonnet", thinking_off=BETWEEN,
          off_effort_cap="high", forced_tool_choice=False),
    _gen5("claude-opus-5-5", "Claude Opus 5.5", "2026-09-22", "opus", thinking_off=NEVER, forced_tool_choice=False,
          fast_mode=FastMode.GA),
    _gen5("claude-fable-5-1", "Claude Fable 5.1", "2026-09-01", "fable", thinking_off=NEVER,
          forced_tool_choice=False),
    _gen5("claude-mythos-5-1", "Claude Mythos 5.1", "2026-09-01", "mythos", thinking_off=NEVER,
          forced_tool_choice=False),
    _gen5("claude-opus-5", "Claude Opus 5", "2026-07-24", "opus", off_effort_cap="high", fast_mode=FastMode.BETA),
    _gen5("claude-sonnet-5", "Claude Sonnet 5", "2026-06-30", "sonnet", mid_conversation_system=False),
    _gen5("claude-fable-5", "Claude Fable 5", "2026-06-09", "fable", thinking_off=NEVER),
    _gen5("claude-mythos-5", "Claude Mythos 5", "2026-06-09", "mythos", thinking_off=NEVER),
    # --- Claude 4 ----------------------------------------------------------------------------------------------------
    _gen5("claude-opus-4-8", "Claude Opus 4.8", "2026-05-28", "opus", fast_mode=FastMode.BETA),
    _gen5("claude-opus-4-7", "Claude Opus 4.7", "2026-04-16", "opus", mid_conversation_system=False),
    # Mythos Preview: its page gives no limits or sampling rule; those of its generation (Opus 4.7) are assumed.
    # The deprecations page (read 2026-11-26) lists it deprecated with no dates, so it still answers; the installed
    # SDK's DEPRECATED_MODELS says "June 30th, 2026", which the API's own ModelInfo would call overdue, not retired.
    # deprecated_at is the day its successor, Mythos 5, shipped.
    _gen5("claude-mythos-preview", "Claude Mythos Preview", "2026-04-07", "mythos", lifecycle=Lifecycle.DEPRECATED,
          deprecated_at=_day("2026-06-09"), replacement="claude-mythos-5", thinking=Thinking.BOTH,
          thinking_off=NEVER, mid_conversation_system=False),
    ClaudeModel("claude-sonnet-4-6", "Claude Sonnet 4.6", _day("2026-02-17"), line="sonnet",
                max_input_tokens=1_000_000, max_tokens=128_000, efforts=EFFORTS_4_6, mid_conversation_system=False),
    ClaudeModel("claude-opus-4-6", "Claude Opus 4.6", _day("2026-02-05"), line="opus",
                max_input_tokens=1_000_000, max_tokens=128_000, efforts=EFFORTS_4_6, mid_conversation_system=False),
    ClaudeModel("claude-opus-4-5-20251101", "Claude Opus 4.5", _day("2025-11-24"), Lifecycle.DEPRECATED,
                alias="claude-opus-4-5", line="opus", deprecated_at=_day("2026-11-23"),
                retires_at=_day("2027-01-22"), replacement="claude-opus-5-5", thinking=Thinking.BUDGETED,
                efforts=EFFORTS_4_5, mid_conversation_system=False),
    ClaudeModel("claude-haiku-4-5-20251001", "Claude Haiku 4.5", _day("2025-10-15"), alias="claude-haiku-4-5",
                line="haiku", thinking=Thinking.BUDGETED, efforts=(), mid_conversation_system=False),
    # a cloud keeps its own schedule: the declared stage (deprecated) is what a cloud dialect serves
    ClaudeModel("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", _day("2025-09-29"), Lifecycle.DEPRECATED,
                alias="claude-sonnet-4-5", line="sonnet", deprecated_at=_day("2026-05-30"),
                retires_at=_day("2026-11-30"), replacement="claude-sonnet-5-5", thinking=Thinking.BUDGETED,
                efforts=(), mid_conversation_system=False),
    # --- retired -----------------------------------------------------------------------------------------------------
    _retired("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05", "opus", "2026-08-05",
             alias="claude-opus-4-1", max_tokens=32_000, thinking=Thinking.BUDGETED, replacement="claude-opus-4-8"),
    _retired("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22", "sonnet", "2026-06-15",
             alias="claude-sonnet-4-0", thinking=Thinking.BUDGETED, replacement="claude-sonnet-4-6"),
    _retired("claude-opus-4-20250514", "Claude Opus 4", "2025-05-22", "opus", "2026-06-15", alias="claude-opus-4-0",
             max_tokens=32_000, thinking=Thinking.BUDGETED, replacement="claude-opus-4-8"),
    _retired("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", "2025-02-24", "sonnet", "2026-02-19",
             deprecated="2025-10-28", alias="claude-3-7-sonnet-latest", thinking=Thinking.BUDGETED,
             replacement="claude-sonnet-4-6"),
    _retired("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22", "haiku", "2026-02-19",
             deprecated="2025-12-19", alias="claude-3-5-haiku-latest", max_tokens=8_192,
             replacement="claude-haiku-4-5"),
    _retired("claude-3-5-sonnet-20241022", "Claude Sonnet 3.5 (new)", "2024-10-22", "sonnet", "2025-10-22",
             deprecated="2025-08-13", alias="claude-3-5-sonnet-latest", max_tokens=8_192),
    _retired("claude-3-5-sonnet-20240620", "Claude Sonnet 3.5", "2024-06-20", "sonnet", "2025-10-22",
             deprecated="2025-08-13", max_tokens=8_192),
    _retired("claude-3-opus-20240229", "Claude Opus 3", "2024-02-29", "opus", "2026-01-05", deprecated="2025-06-30",
             alias="claude-3-opus-latest", max_tokens=4_096, replacement="claude-opus-4-6"),
    _retired("claude-3-sonnet-20240229", "Claude Sonnet 3", "2024-02-29", "sonnet", "2025-07-21",
             deprecated="2025-01-21", max_tokens=4_096),
    _retired("claude-2.1", "Claude 2.1", "2023-11-21", None, "2025-07-21", deprecated="2025-01-21", max_tokens=4_096),
    _retired("claude-instant-1.2", "Claude Instant 1.2", "2023-08-09", "haiku", "2024-11-06", deprecated="2024-09-04",
             max_tokens=4_096),
    _retired("claude-2.0", "Claude 2.0", "2023-07-11", None, "2025-07-21", deprecated="2025-01-21", max_tokens=4_096),
)  # fmt: skip
"""The lineup, newest first (the order ``GET /v1/models`` lists it in)."""
