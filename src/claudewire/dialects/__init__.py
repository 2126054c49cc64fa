"""Sans-IO translators between what OpenAI-format callers speak and the Messages API.

Chat Completions, Responses and Cursor's mix of the two, each as request translators (a body and a `Target` in, a
`MessagesRequest` out), answer translators (a Messages answer in, the caller's JSON out) and stream state machines
(the upstream's SSE bytes or events in, the bytes to write out). Nothing here touches a socket, a clock or the model
catalogue: the caller passes the time, the model's `ModelTraits` and the names to echo. It imports the standard
library only, nothing else of claudewire's.

=====================  ==========================  =========================  =========================
dialect                request                     JSON answer                stream
=====================  ==========================  =========================  =========================
Chat Completions       `chat_request`              `chat_answer`              `ChatStream`
Responses              `responses_request`         `responses_answer`         `ResponsesStream`
Cursor                 `cursor_request`            `chat_answer`              `ChatStream`
=====================  ==========================  =========================  =========================

Errors: `DialectError` (a body refused, 400) and `from_anthropic` (an upstream error) both render as `OpenAIError`;
`openai_headers` maps rate-limit headers. Models: `models_list`, `resolve_model`; `guess_traits` when the catalogue
does not know a model.
"""

from __future__ import annotations

from claudewire.dialects.chat_request import chat_request
from claudewire.dialects.chat_response import chat_answer, chat_completion, finish_reason
from claudewire.dialects.chat_stream import ChatStream
from claudewire.dialects.common import DEFAULT_MAX_TOKENS, DialectError, MessagesRequest, ModelTraits, Target
from claudewire.dialects.cursor import cursor_request, is_responses_shaped
from claudewire.dialects.errors import OpenAIError, dialect_error, from_anthropic, openai_headers
from claudewire.dialects.models import ResolvedModel, models_list, resolve_model
from claudewire.dialects.responses_request import responses_request
from claudewire.dialects.responses_response import response_object, responses_answer
from claudewire.dialects.responses_stream import ResponsesStream
from claudewire.dialects.traits import guess_traits

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ChatStream",
    "DialectError",
    "MessagesRequest",
    "ModelTraits",
    "OpenAIError",
    "ResolvedModel",
    "ResponsesStream",
    "Target",
    "chat_answer",
    "chat_completion",
    "chat_request",
    "cursor_request",
    "dialect_error",
    "finish_reason",
    "from_anthropic",
    "guess_traits",
    "is_responses_shaped",
    "models_list",
    "openai_headers",
    "resolve_model",
    "response_object",
    "responses_answer",
    "responses_request",
]
