"""Content blocks of the Messages API built from what OpenAI callers send: text, images, documents.

Chat Completions and Responses name their parts differently (``image_url`` / ``input_image``, ``file`` /
``input_file``) but carry the same things: a data URI or an http(s) URL for an image, a data URI or bare base64 for a
file. These helpers turn each into its block, keeping a part's ``cache_control`` (never adding one: caching is the
caller's choice), and raise `DialectError` naming the part when it cannot be sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

from claudewire.dialects.common import DialectError, objects

__all__ = ["PartTranslator", "content_blocks", "document_block", "image_block", "text_block", "with_cache_control"]

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URI = re.compile(r"data:(?P<type>[^;,]*)(?P<params>(?:;[^;,]*)*?)(?P<b64>;base64)?,(?P<data>.*)", re.DOTALL)

PartTranslator = Callable[[Mapping[str, Any], str], dict[str, Any] | None]
"""A dialect's one content part (and the param naming it) -> its Messages block, None to drop it, or a 400."""


def content_blocks(content: Any, param: str, part_block: PartTranslator) -> list[dict[str, Any]]:
    """The blocks of a message's content: a string (one text block, none when empty) or a list of parts, each
    translated by the dialect's `part_block`."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise DialectError(f"{param} must be a string or a list of content parts", param=param)
    blocks = (part_block(part, where) for where, part in objects(content, param))
    return [block for block in blocks if block is not None]


def with_cache_control(block: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """`block` with the part's ``cache_control`` copied over when it has one (passed through, never injected)."""
    cache_control = part.get("cache_control")
    if isinstance(cache_control, Mapping):
        block["cache_control"] = dict(cache_control)
    return block


def text_block(text: Any, part: Mapping[str, Any], param: str) -> dict[str, Any] | None:
    """A text block, or None for empty text (the API rejects empty text blocks)."""
    if not isinstance(text, str):
        raise DialectError(f"{param}.text must be a string", param=param)
    if not text:
        return None
    return with_cache_control({"type": "text", "text": text}, part)


def _data_uri(uri: str, param: str) -> tuple[str, str]:
    """The media type and base64 payload of a ``data:`` URI (base64 encoded, as images and PDFs must be)."""
    m = _DATA_URI.fullmatch(uri)
    if m is None or not m.group("b64"):
        raise DialectError(f"{param}: a data URI must be base64 encoded (data:<type>;base64,<data>)", param=param)
    media_type = m.group("type").strip().lower() or "application/octet-stream"
    return media_type, m.group("data").strip()


def image_block(url: Any, part: Mapping[str, Any], param: str) -> dict[str, Any]:
    """An image block: a data URI becomes a base64 source with its media type, an http(s) URL a URL source."""
    if not isinstance(url, str) or not url:
        raise DialectError(f"{param}: the image URL must be a non-empty string", param=param)
    if url.startswith("data:"):
        media_type, data = _data_uri(url, param)
        if media_type == "image/jpg":
            media_type = "image/jpeg"
        if media_type not in IMAGE_TYPES:
            raise DialectError(
                f"{param}: image type {media_type!r} is not supported (use jpeg, png, gif or webp)", param=param
            )
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    elif url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}
    else:
        raise DialectError(f"{param}: an image must be a data: URI or an http(s) URL", param=param)
    return with_cache_control({"type": "image", "source": source}, part)


def document_block(
    *, data: Any, url: Any, filename: Any, part: Mapping[str, Any], param: str, media_hint: str | None = None
) -> dict[str, Any]:
    """A document block from file data (a data URI or bare base64, PDF or plain text) or an http(s) URL.

    Bare base64 is read as a PDF unless `media_hint` or a ``.txt``/``.md`` file name says text. The file name becomes
    the document's title.
    """
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            media_type, payload = _data_uri(data, param)
        else:
            guessed = str(filename or "").lower().endswith((".txt", ".md"))
            media_type, payload = (media_hint or ("text/plain" if guessed else "application/pdf")), data
        if media_type == "application/pdf":
            source: dict[str, Any] = {"type": "base64", "media_type": "application/pdf", "data": payload}
        elif media_type.startswith("text/"):
            try:
                text = base64.b64decode(payload, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise DialectError(f"{param}: the text file is not base64-encoded UTF-8", param=param) from exc
            source = {"type": "text", "media_type": "text/plain", "data": text}
        elif media_type in IMAGE_TYPES:
            return image_block(data if data.startswith("data:") else f"data:{media_type};base64,{payload}", part, param)
        else:
            raise DialectError(
                f"{param}: file type {media_type!r} is not supported (PDF, plain text or an image)", param=param
            )
    elif isinstance(url, str) and url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}
    else:
        raise DialectError(
            f"{param}: a file must carry its data (file_data) or an http(s) URL; uploaded file ids are not supported",
            param=param,
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    if isinstance(filename, str) and filename:
        block["title"] = filename
    return with_cache_control(block, part)
