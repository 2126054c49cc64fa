"""The bounded ``route`` label of an API path, shared by the call record and the metrics (which must not import
each other's way up)."""

from __future__ import annotations

__all__ = ["DIALECTS", "route_of"]

DIALECTS: tuple[str, ...] = ("anthropic", "chat", "responses", "cursor")
"""Every dialect a call is made in (the ``dialect`` label): Anthropic's own, and the OpenAI-compatible ingress's."""


def route_of(path: str) -> str:
    """The bounded ``route`` label of an API path (``/v1/messages/count_tokens`` → ``count_tokens``)."""
    if path.startswith("/v1/messages"):
        if len(path) == 12 or path[12] == "?":
            return "messages"
        if path.startswith("/v1/messages/count_tokens"):
            return "count_tokens"
        if path.startswith("/v1/messages/batches"):
            return "batches"
        return "other"
    if path.startswith("/v1/models"):
        return "models"
    if path.startswith("/v1/files"):
        return "files"
    # the OpenAI-compatible ingress: a translated call is a Messages call (its `dialect` says what the caller spoke)
    if path in _MESSAGES or (path.startswith("/openai/deployments/") and path.endswith("/chat/completions")):
        return "messages"
    if path in ("/cursor/models", "/cursor/v1/models"):
        return "models"
    return "other"


_MESSAGES = frozenset(
    {"/v1/chat/completions", "/v1/responses", "/cursor/chat/completions", "/cursor/v1/chat/completions"}
)
