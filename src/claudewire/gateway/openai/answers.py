"""Answers in the caller's OpenAI dialect: the accepted attempt's answer translated, and the gateway's own errors.

`DialectAnswer` (`chat_translation`, `responses_translation`) is the `claudewire.gateway.exchange.Translation` of a
translated call: a JSON answer is rewritten whole (`claudewire.dialects.chat_answer` / `responses_answer`), a stream
goes through its dialect's state machine chunk by chunk, an upstream error becomes OpenAI's envelope with its status
unchanged, and a stream the gateway ends (idle, cut) ends with the dialect's error event. Header lines follow OpenAI's
names (`openai_lines`): ``anthropic-ratelimit-*`` -> ``x-ratelimit-*``, ``request-id`` also as ``x-request-id``,
``retry-after`` kept. `own_error` renders an error the gateway writes itself (open breaker, limits, tokens, an
unknown model) in the same envelope.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from claudewire._errors import Failure
from claudewire.dialects import (
    ChatStream,
    DialectError,
    MessagesRequest,
    OpenAIError,
    ResponsesStream,
    chat_answer,
    dialect_error,
    from_anthropic,
    openai_headers,
    responses_answer,
)
from claudewire.dialects.common import dumps
from claudewire.gateway.downstream.errors import ErrorAnswer, error_answer

__all__ = [
    "DialectAnswer",
    "chat_translation",
    "error_lines",
    "openai_lines",
    "own_error",
    "refusal_answer",
    "responses_translation",
]

_JSON = b"content-type: application/json\r\n"
_SSE = b"content-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
_DROPPED = (b"content-type:", b"content-encoding:", b"content-length:", b"transfer-encoding:", b"cache-control:")
_MAPPED = (b"anthropic-ratelimit-", b"retry-after", b"request-id:")
_TYPE_STATUS = {  # an Anthropic error type (an SSE error event has no status) -> the status the API gives it
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def openai_lines(headers: bytes, *, now: float | None = None) -> bytes:
    """The upstream's (or the gateway's) header lines as an OpenAI client reads them; content framing dropped."""
    pairs: list[tuple[str, str]] = []
    out: list[bytes] = []
    for line in headers.split(b"\r\n"):
        if not line:
            continue
        head = line[:20].lower()  # every name looked at is told apart by its first 20 bytes
        if head.startswith(_DROPPED):
            continue
        if head.startswith(_MAPPED):
            name, _, value = line.partition(b":")
            low = name.strip().lower().decode("latin-1")
            pairs.append((low, value.strip().decode("latin-1")))
            if low == "request-id":
                out.append(line + b"\r\n")
            continue
        out.append(line + b"\r\n")
    if pairs:
        for mapped, text in openai_headers(pairs, now=time.time() if now is None else now):
            out.append(f"{mapped}: {text}\r\n".encode("latin-1"))
    return b"".join(out)


def error_lines(error: OpenAIError, headers: bytes, *, both: bool = False) -> tuple[int, bytes, bytes]:
    """A whole error answer: `error`'s status and envelope, with `headers` in OpenAI's names. `both`: the envelope
    also says ``"type": "error"``, so the Anthropic SDK reads it too (a model list whose caller is not certain)."""
    body = dumps({"type": "error", **error.envelope()}) if both else error.body()
    return error.status, _JSON + openai_lines(headers), body


def own_error(answer: ErrorAnswer, extra: bytes = b"", *, both: bool = False) -> tuple[int, bytes, bytes]:
    """An error the gateway wrote in the Anthropic shape (`error_answer`), in OpenAI's envelope and header names."""
    try:
        message = str(json.loads(answer.body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = answer.body.decode("utf-8", "replace")[:500]
    return error_lines(OpenAIError(answer.status, message, answer.error_type), answer.headers + extra, both=both)


def refusal_answer(exc: DialectError) -> tuple[int, bytes, bytes]:
    """A body the translator refused: its 400 (or 502) in OpenAI's envelope."""
    return error_lines(dialect_error(exc), b"")


def _failure_error(failure: Failure, detail: str) -> tuple[str, str]:
    """The Anthropic error type and the gateway's message (cause and fix) for a stream it ends on `failure`."""
    answer = error_answer(failure, detail=detail)
    data = json.loads(answer.body)
    return answer.error_type, str(data["error"]["message"])


def _event_error(event: Mapping[str, Any]) -> OpenAIError:
    error = event.get("error")
    kind = error.get("type") if isinstance(error, Mapping) else None
    status = _TYPE_STATUS.get(kind, 500) if isinstance(kind, str) else 500
    return from_anthropic(status, event)


class DialectAnswer:
    """The answer of one translated call in its caller's dialect (the `Translation` the exchange is given).

    `stream` is the dialect's state machine (`ChatStream`, `ResponsesStream`), `translate` its whole-answer rewrite.
    Build one with `chat_translation` or `responses_translation`.
    """

    __slots__ = ("stream", "translate")

    def __init__(self, stream: ChatStream | ResponsesStream, translate: Callable[[bytes], bytes]) -> None:
        self.stream = stream
        self.translate = translate

    def whole(self, status: int, headers: bytes, body: bytes) -> tuple[int, bytes, bytes]:
        """An upstream JSON answer (or error) in the caller's dialect."""
        if status >= 400:
            return error_lines(from_anthropic(status, body), headers)
        try:
            out = self.translate(body)
        except DialectError as exc:
            return error_lines(dialect_error(exc), headers)
        return status, _JSON + openai_lines(headers), out

    def start(self, status: int, headers: bytes) -> bytes:
        """A stream's header lines."""
        return _SSE + openai_lines(headers)

    def feed(self, chunk: bytes) -> bytes:
        """The caller's chunks or events for the upstream's next bytes."""
        return self.stream.feed(chunk)

    def close(self) -> bytes:
        """The stream's last frames (``[DONE]``, ``response.completed``; an error if the answer was cut short)."""
        return self.stream.close()

    def fail(self, failure: Failure, detail: str) -> bytes:
        """The dialect's error frames for a stream the gateway ends on `failure`."""
        kind, message = _failure_error(failure, detail)
        return self.stream.fail(message, kind)

    def refuse(self, status: int, headers: bytes, event: dict[str, Any]) -> tuple[int, bytes, bytes]:
        """A stream that began with an ``error`` event, as a whole error answer with the status of its type."""
        return error_lines(_event_error(event), headers)


def chat_translation(request: MessagesRequest, created: int | None = None) -> DialectAnswer:
    """The Chat Completions answer of `request` (also Cursor's and Azure's): JSON or ``chat.completion.chunk`` SSE."""
    model = request.reply_model
    when = int(time.time()) if created is None else created
    stream = ChatStream(model=model, created=when, include_usage=request.include_usage)
    return DialectAnswer(stream, functools.partial(chat_answer, model=model, created=when))


def responses_translation(request: MessagesRequest, created: int | None = None) -> DialectAnswer:
    """The Responses answer of `request`: a ``response`` object, or its event sequence."""
    model = request.reply_model
    when = int(time.time()) if created is None else created
    stream = ResponsesStream(model=model, created=when, echo=request.echo)
    return DialectAnswer(stream, functools.partial(responses_answer, model=model, created=when, echo=request.echo))
