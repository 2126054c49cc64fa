"""One client request as the HTTP layer hands it to a handler, and the rules judged on its head alone.

`Request` is one parsed message: method, target and header pairs as raw bytes, and the whole body. The functions are
pure: the one canonical form of a request target (`canonical_target`), the 405 a method not forwarded gets, what a
request line the HTTP parser refused is (a method it does not know, which is a 405 too, or garbage), and the body
length a head announces. `downstream.http` applies them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from claudewire.gateway.downstream.limits import ALLOWED_METHODS, refusal
from claudewire.gateway.wire import first_header

__all__ = [
    "HEALTH_PATHS",
    "HeadRefusal",
    "LineVerdict",
    "Request",
    "body_length",
    "canonical_target",
    "judge_head",
    "judge_request_line",
    "method_refusal",
]

HEALTH_PATHS = frozenset({b"/healthz", b"/readyz"})

# A request line whose method is an RFC 9110 token: what an unknown method looks like, as opposed to garbage;
# _LINE_SO_FAR is what can still become one.
_TCHAR = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_REQUEST_LINE = re.compile(rb"(?:\r\n)*(" + _TCHAR + rb"+) [!-~]+ HTTP/\d\.\d\r\n")
_LINE_SO_FAR = re.compile(rb"(?:\r\n)*" + _TCHAR + rb"*(?: [!-~]*(?: [HTP/0-9.]{0,8}\r?)?)?")
# RFC 3986 2.3: escapes of these mean the character itself (%6d is m); any other escape keeps its meaning
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


class Request:
    """One parsed request: method, target (path and query) and headers as raw bytes, and the whole body.

    `target` is canonical (`canonical_target`): what is routed, limited, logged and forwarded, whatever the spelling.
    """

    __slots__ = ("body", "discard", "headers", "keep_alive", "method", "refusal", "reserved", "target", "too_large")

    def __init__(self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], keep_alive: bool) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = b""
        self.keep_alive = keep_alive
        self.too_large = False
        self.discard = False  # its caller is not authenticated: the body is read and dropped, never held
        self.refusal: bytes | None = None  # a whole response the HTTP layer answers with, no handler involved
        self.reserved = 0  # bytes of the body budget this request holds

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (give it lower-case), or None."""
        return first_header(self.headers, name)

    @property
    def path(self) -> bytes:
        """The (canonical) target without its query string."""
        q = self.target.find(b"?")
        return self.target if q < 0 else self.target[:q]


def _unescape(found: re.Match[bytes]) -> bytes:
    byte = int(found.group(1), 16)
    return bytes((byte,)) if byte in _UNRESERVED else b"%" + found.group(1).upper()


def canonical_target(raw: bytes) -> bytes | str:
    """The one form of a request target every decision reads, or why it cannot be forwarded (a str).

    Escapes of unreserved characters are decoded (``/v1/%6D%65ssages`` is ``/v1/messages``) and the others upper-cased
    (RFC 3986 6.2.2), so a route is one string however it is spelt; a fragment, a broken escape, dot segments (also
    encoded), empty segments, encoded slashes and backslashes are refused, and so is anything but a path.
    """
    if not raw.startswith(b"/"):
        return "the request target must be a path starting with /"
    if b"#" in raw:
        return "a request target carries no fragment (#...)"
    target = raw
    if b"%" in raw:
        if _BROKEN_ESCAPE.search(raw) is not None:
            return "a percent sign in the request target must begin an escape of two hex digits (%XX)"
        target = _ESCAPE.sub(_unescape, raw)
    q = target.find(b"?")
    path = target if q < 0 else target[:q]
    if b"//" in path:
        return "empty path segments (//) are not forwarded"
    if b"." in path:
        for segment in path.split(b"/"):
            if segment == b"." or segment == b"..":
                return "dot segments (/./ and /../) are not forwarded"
    if b"%" in path and (b"%2F" in path or b"%5C" in path):
        return "encoded slashes in the path are not forwarded"
    if b"\\" in path:
        return "backslashes in the path are not forwarded"
    return target


def body_length(req: Request) -> int:
    """The body length the head announces (Content-Length; 0 without one, or for a chunked body)."""
    length = req.header(b"content-length")
    return int(length) if length is not None and length.isdigit() else 0


def method_refusal(method: bytes, *, close: bool) -> bytes:
    """The 405 in the API's error shape, with ``Allow``, for a method the gateway does not forward."""
    return _not_forwarded(method).answer(close=close)


def _not_forwarded(method: bytes) -> HeadRefusal:
    methods = ", ".join(m.decode() for m in sorted(ALLOWED_METHODS))
    msg = f"method {method.decode('latin-1')[:20]} is not forwarded (the API's methods: {methods})"
    return HeadRefusal("method", 405, msg, allow=True)


@dataclass(frozen=True, slots=True)
class HeadRefusal:
    """Why a request head is refused before any handler runs: its `reason` label, status and message."""

    reason: str  # claudewire_gateway_refused_total{reason}
    status: int
    message: str
    allow: bool = False  # a 405: name the methods that are forwarded

    def answer(self, *, close: bool) -> bytes:
        """The whole answer in the API's error shape."""
        return refusal(self.status, "invalid_request_error", self.message, close=close, allow=self.allow)


def judge_head(method: bytes, target: bytes | str, hosts: int, http10: bool) -> HeadRefusal | None:
    """What a head alone says is refused: a method not forwarded, a target `canonical_target` refused (its reason, a
    str), an HTTP/1.1 request without exactly one Host (RFC 9112 3.2); None when nothing is."""
    if method not in ALLOWED_METHODS:
        return _not_forwarded(method)
    if isinstance(target, str):
        return HeadRefusal("path", 400, target)
    if hosts != 1 and not http10:
        return HeadRefusal("host", 400, f"an HTTP/1.1 request carries exactly one Host header, not {hosts}")
    return None


class LineVerdict(enum.Enum):
    """What a request line the HTTP parser refused (for its method) turns out to be."""

    METHOD = "method"  # well-formed, with a method the parser does not know: 405
    GARBAGE = "garbage"  # not a request line: 400
    TOO_LONG = "too_long"  # over the head limit before it ended: 431
    MORE = "more"  # not ended yet, and can still become a well-formed one


def judge_request_line(line: bytes, head_limit: int) -> tuple[LineVerdict, bytes]:
    """The verdict on the bytes of a message so far, and its method when it is `LineVerdict.METHOD`."""
    found = _REQUEST_LINE.match(line)
    if found is not None:
        return LineVerdict.METHOD, found.group(1)
    if len(line) > head_limit:
        return LineVerdict.TOO_LONG, b""
    if _LINE_SO_FAR.fullmatch(line) is None:
        return LineVerdict.GARBAGE, b""
    return LineVerdict.MORE, b""
