"""The bounded ``route`` label of an API path, shared by the call record and the metrics (which must not import
each other's way up)."""

from __future__ import annotations

__all__ = ["route_of"]


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
    return "other"
