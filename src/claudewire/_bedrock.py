"""What Amazon Bedrock takes for Anthropic models, shared by the gateway's ``bedrock`` kind (what it forwards) and the
simulator's Bedrock (what it accepts): one list, so the two cannot drift apart. Imports nothing of claudewire."""

from __future__ import annotations

__all__ = ["BEDROCK_BETAS"]

BEDROCK_BETAS: frozenset[str] = frozenset(
    {
        # Claude Code's own Bedrock mode sends the first two; the rest as public provider tables list Bedrock's
        "interleaved-thinking-2025-05-14",
        "tool-search-tool-2025-10-19",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "fine-grained-tool-streaming-2025-05-14",
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "compact-2026-01-12",
        "dangerous-tool-use-2026-09-03",
        "thinking-binding-controls-2026-08-01",
        "thinking-display-updates-2026-08-18",
        "mid-conversation-output-config-2026-07-01",
        "mid-conversation-tool-changes-2026-07-01",
    }
)
"""The ``anthropic_beta`` values Bedrock takes; it answers any other with 400 "invalid beta flag"."""
