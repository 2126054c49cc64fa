"""One page of a newest-first list, as the API pages ``GET /v1/messages/batches`` and ``GET /v1/files``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from claudewire.sim.endpoints import ApiError

__all__ = ["Page", "page_of"]


@dataclass(frozen=True, slots=True)
class Page:
    """The ids on one page, whether more follow, and the opaque cursor to the next page (None on the last)."""

    ids: tuple[str, ...]
    has_more: bool
    next_page: str | None


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def _cursor(after: str) -> str:
    return "page_" + base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def _uncursor(page: str) -> str:
    if not page.startswith("page_"):
        raise _invalid("page: expected a cursor from a previous list response's next_page (prefixed page_)")
    raw = page[5:]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid("page: not a cursor this server issued") from None


def page_of(ids: Sequence[str], query: Mapping[str, str]) -> Page:
    """The page `query` asks for (``limit`` 1..1000, default 20; ``after_id``, ``before_id`` or ``page``).

    `ids` are newest first. An unknown cursor id is a 400, as the API answers.
    """
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise _invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise _invalid("limit: Input should be greater than or equal to 1 and less than or equal to 1000")
    after, before, page = query.get("after_id"), query.get("before_id"), query.get("page")
    if page:
        after = _uncursor(page)
    position = {item: i for i, item in enumerate(ids)}
    if after is not None:
        if after not in position:
            raise _invalid(f"after_id: no object with id {after}")
        rest = ids[position[after] + 1 :]
        chosen, more = rest[:limit], len(rest) > limit
    elif before is not None:
        if before not in position:
            raise _invalid(f"before_id: no object with id {before}")
        earlier = ids[: position[before]]
        chosen, more = earlier[-limit:], len(earlier) > limit
    else:
        chosen, more = ids[:limit], len(ids) > limit
    cursor = _cursor(chosen[-1]) if more and chosen and before is None else None
    return Page(tuple(chosen), more, cursor)
