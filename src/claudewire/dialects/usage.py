"""Token counts of a Messages answer, written as Chat Completions and Responses usage.

Anthropic counts cached input apart: ``input_tokens`` is only the uncached part, beside ``cache_read_input_tokens``
and ``cache_creation_input_tokens``. OpenAI's prompt count includes the cache, with the cached part broken out. So
``prompt_tokens``/``input_tokens`` = input + cache read + cache creation; ``cached_tokens`` = cache read;
``cache_write_tokens`` = cache creation (OpenAI's own field), and the chat usage also keeps Anthropic's two cache
counts as extension fields, so a caller that reads them (LiteLLM, Cursor) never sees a cache hit reported as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TokenCounts"]

_FIELDS = (
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_input_tokens", "cache_read"),
    ("cache_creation_input_tokens", "cache_creation"),
)


@dataclass(slots=True)
class TokenCounts:
    """Token counts of one answer; `update` takes a Messages ``usage`` object (later values win: cumulative)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    thinking_tokens: int | None = None

    def update(self, usage: Any) -> None:
        """Take the counts a ``usage`` object carries (``message_start``'s, then ``message_delta``'s)."""
        if not isinstance(usage, dict):
            return
        for key, attr in _FIELDS:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(self, attr, value)
        details = usage.get("output_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
            self.thinking_tokens = details["thinking_tokens"]

    @property
    def prompt_tokens(self) -> int:
        """All input tokens, cached or not: what OpenAI calls the prompt."""
        return self.input_tokens + self.cache_read + self.cache_creation

    def chat(self) -> dict[str, Any]:
        """A Chat Completions ``usage`` object (with Anthropic's cache counts as extension fields)."""
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.prompt_tokens + self.output_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cache_read, "cache_write_tokens": self.cache_creation},
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_creation,
        }
        if self.thinking_tokens is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.thinking_tokens}
        return usage

    def responses(self) -> dict[str, Any]:
        """A Responses ``usage`` object."""
        return {
            "input_tokens": self.prompt_tokens,
            "input_tokens_details": {"cached_tokens": self.cache_read, "cache_write_tokens": self.cache_creation},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.thinking_tokens or 0},
            "total_tokens": self.prompt_tokens + self.output_tokens,
        }
