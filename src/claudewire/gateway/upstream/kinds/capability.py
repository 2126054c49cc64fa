"""Which capability a cloud's 400 or 413 rejected, in the stable terms of Claude Code's gateway protocol.

Claude Code recovers from an upstream rejecting a capability (it compacts a prompt that is too long, strips thinking
blocks whose signature was refused, stops sending effort or structured outputs to a model without them ...) by
matching the Anthropic API's wording, or the stable token ``capability_rejected: <class>`` a gateway adds where an
upstream words it otherwise. `capability_rejected` classifies a rejection's message into the protocol's classes, in
the protocol's order (the first match wins) and conservatively (a wording not recognised gets no class: a wrong
token would trigger the wrong recovery); `with_token` puts the token after the upstream's own words, which stay
intact. `whole_message` is the exception: a few rejections (Bedrock's "Input is too long.", Vertex's request-size
limit) are matched by the client only as the whole message, so nothing may be added to them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["CLASSES", "PREFIX", "capability_rejected", "whole_message", "with_token"]

PREFIX = "capability_rejected: "
"""What precedes a class name in an error message."""

CLASSES: tuple[str, ...] = (
    "mid_conv_system",
    "cache_control_field",
    "thinking_signature",
    "thinking_type:<enabled|adaptive>",
    "structured_outputs_unsupported",
    "effort_unsupported",
    "media_budget",
    "image_block",
    "document_block",
    "prompt_too_long",
    "max_tokens_context_overflow",
    "beta_header:<value>",
)
"""The protocol's classes, in classification order (for ``GET /protocol``)."""

_MID_CONVERSATION_BETA = "mid-conversation-system-"
_NAMES_BETA = re.compile(r"anthropic[-_]beta")
_SYSTEM_WORDS = re.compile(r"system messages?\b|role .{0,2}system", re.IGNORECASE)
_SYSTEM_PLACEMENT = re.compile(
    r"role .{0,2}system.{0,2} must (?:precede an|follow a)"
    r"|use the top-level .{0,2}system.{0,2} parameter for the initial system prompt",
    re.IGNORECASE,
)
_SYSTEM_TEXT_ONLY = re.compile(r"text-only role .{0,2}system.{0,2} messages require", re.IGNORECASE)
_SYSTEM_ROLE_ENUM = re.compile(
    r"(?:unknown variant .{0,2}system\b.{0,2}, expected|Input should be) "
    r"[\\'\"`]{1,2}(?:user|assistant)\b.{0,2} or [\\'\"`]{1,2}(?:user|assistant)\b",
    re.IGNORECASE,
)
_FIELD_REFUSED = (
    "not permitted",
    "cannot be set",
    "unknown name",
    "unknown field",
    "unrecognized",
    "additional propert",
)
_THINKING_TYPE = re.compile(r"thinking\.type[^a-z]{1,8}(enabled|adaptive)[\s\S]*?not supported", re.IGNORECASE)
_ADAPTIVE = re.compile(r"\b(adaptive) thinking is not supported", re.IGNORECASE)
_BLOCK_PATH = re.compile(
    r"messages[.\[](\d+)[\].]+content[.\[](\d+)[\].]+(?:tool_result[.\[]content[.\[](\d+)[\].]+)?(image|document|pdf)"
)
_IMAGE = (
    "could not process image",
    "image exceeds",
    "image dimensions exceed",
    "image does not match the provided media type",
    "image cannot be empty",
    "exceeds api limit",
    "images exceed the api limit",
    "unable to resize image",
    "unable to compress image",
    "image file is empty",
)
_DOCUMENT = (
    "could not process pdf",
    "pdf pages",
    "the pdf specified was not valid",
    "the pdf specified is password protected",
    "pdf cannot be empty",
    "does not support pdf input",
    "does not support pdfs",
    "too much media",
)
_WHOLE = re.compile(
    r"input is too long\.?|the (?:request|message) size \(\d+ bytes\) exceeds [\d.]+ ?MB limit\.?", re.IGNORECASE
)


def _mid_conversation_system(message: str) -> bool:
    if _MID_CONVERSATION_BETA in message and _NAMES_BETA.search(message):
        return True
    if _SYSTEM_PLACEMENT.search(message) or _SYSTEM_TEXT_ONLY.search(message) or _SYSTEM_ROLE_ENUM.search(message):
        return True
    if "Unexpected role" in message and "input message role" in message:
        return True
    if "cache_control" in message and _SYSTEM_WORDS.search(message):
        return True
    return "not supported" in message and re.search(r"role .{0,2}system", message, re.IGNORECASE) is not None


def _cache_control_field(message: str, low: str) -> bool:
    if "cache_control" not in message or _SYSTEM_WORDS.search(message) or "empty text block" in message:
        return False
    if re.search(r"\bsystem\.\d+\.", message) or "tool_result" in message or re.search(r"\bttl\b", low):
        return False
    return any(words in low for words in _FIELD_REFUSED)


def _thinking_signature(low: str) -> bool:
    text = low.replace("`", "")
    if "signature in thinking block" in text or "invalid data in redacted_thinking block" in text:
        return True
    if "thinking.signature" in text and "field required" in text:
        return True
    return ("thinking block" in text or "redacted_thinking" in text) and (
        "cannot be modified" in text or "invalid signature" in text
    )


def _effort(low: str) -> bool:
    if "effort parameter" in low and "not support" in low:
        return True
    return "output_config" in low and (
        "extra inputs are not permitted" in low or "requires a model that supports" in low
    )


def _media_block(message: str, low: str) -> str | None:
    found = _BLOCK_PATH.search(message)
    if found:
        return "image_block" if found.group(4) == "image" else "document_block"
    if any(words in low for words in _IMAGE):
        return "image_block"
    if any(words in low for words in _DOCUMENT):
        return "document_block"
    return None


def capability_rejected(status: int, message: str, betas: Sequence[str] = ()) -> str | None:
    """The protocol's class for an upstream's `status` rejection worded `message` (`betas`: the ``anthropic-beta``
    values the caller sent, verbatim), or None when it is no capability rejection the protocol names."""
    low = message.lower()
    too_long = "prompt is too long" in low or "input is too long for requested model" in low
    if status == 413:
        return "prompt_too_long" if too_long or "context window" in low else None
    if status != 400:
        return None
    if _mid_conversation_system(message):
        return "mid_conv_system"
    if _cache_control_field(message, low):
        return "cache_control_field"
    if _thinking_signature(low):
        return "thinking_signature"
    if found := _THINKING_TYPE.search(message) or _ADAPTIVE.search(message):
        return f"thinking_type:{found.group(1).lower()}"
    if "output_config.format: extra inputs are not permitted" in low:
        return "structured_outputs_unsupported"
    if _effort(low):
        return "effort_unsupported"
    if "too much media" in low:
        return "media_budget"
    if block := _media_block(message, low):
        return block
    if too_long:
        return "prompt_too_long"
    if "input length and `max_tokens` exceed context limit" in low:
        return "max_tokens_context_overflow"
    if _NAMES_BETA.search(message):
        for beta in betas:
            if beta and beta in message:
                return f"beta_header:{beta}"
    return None


def whole_message(message: str) -> bool:
    """Whether the client matches `message` only whole (nothing, not even a label, may be added to it)."""
    return _WHOLE.fullmatch(message.strip()) is not None


def with_token(message: str, name: str | None) -> str:
    """`message` with the ``capability_rejected`` token of class `name` after it (unchanged when `name` is None)."""
    return message if name is None else f"{message} {PREFIX}{name}"
