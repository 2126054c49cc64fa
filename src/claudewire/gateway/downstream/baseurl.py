"""A client given the wrong base URL, answered with the base URL that client needs.

Clients differ in how much of the API's path they add themselves (README, "Which base URL each client takes"):
Claude Code, the Anthropic SDKs, LangChain and LiteLLM add ``/v1/messages`` to the gateway's root; the Vercel AI
SDK adds ``/messages`` to a base URL that ends in ``/v1``. Given the other one, a client calls ``/messages`` (the
root given to the Vercel AI SDK, which reads ANTHROPIC_BASE_URL too) or ``/v1/v1/messages`` (``…/v1`` given to
LiteLLM or an SDK). Neither is served as an alias: a base URL that works with the gateway must work against the API
itself, which answers both with a bare 404. The gateway answers them with a 404 in the API's error shape whose fix
names the base URL to set, for the client that made that mistake (`misdirected`).
"""

from __future__ import annotations

import dataclasses
import re

from claudewire._errors import Failure, FailureKind
from claudewire.gateway.downstream.errors import error_answer
from claudewire.gateway.downstream.http import Connection, Request

__all__ = ["answer_misdirected", "misdirected"]

# the API's own first path segments: a request for one of them without /v1 came from a base URL missing /v1
_API_SEGMENTS = frozenset({b"messages", b"models", b"files", b"complete", b"skills"})
_HOST = re.compile(rb"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")
_SHOWN = 80  # characters of the requested path quoted back


def answer_misdirected(req: Request, conn: Connection) -> bool:
    """Answer `req` with `misdirected`'s 404 when its path is a wrong base URL's (True), else leave it (False)."""
    path = req.path
    if path.startswith(b"/v1/") and not path.startswith(b"/v1/v1"):  # the API's paths: at once
        return False
    failure = misdirected(path, req.header(b"host"), _own_root(conn))
    if failure is None:
        return False
    answer = error_answer(failure)
    conn.respond(answer.status, answer.headers, answer.body)
    return True


def misdirected(path: bytes, host: bytes | None, own_root: str) -> Failure | None:
    """The 404 for a path that only a wrong base URL produces (``/messages``, ``/v1/v1/...``), else None.

    The fix names the address the client used (its `host` header) when it is a plain host[:port], else `own_root`
    (``scheme://address:port`` of the listener the request came in on), whose scheme is kept either way.
    """
    if path.startswith(b"/v1/"):
        if not path.startswith(b"/v1/v1/") and path != b"/v1/v1":
            return None
        extra_v1 = True
    else:
        first = path[1:].split(b"/", 1)[0]
        if first not in _API_SEGMENTS:
            return None
        extra_v1 = False
    root = _root(host, own_root)
    shown = path[:_SHOWN].decode("latin-1")
    if extra_v1:
        cause = (
            f"Nothing is served at {shown}: the client was given a base URL ending in /v1 and added /v1 again "
            "(404 not_found_error)."
        )
        fix = (
            f"Set the base URL to {root}, without /v1, for LiteLLM (api_base), Claude Code and the Anthropic SDKs "
            "(ANTHROPIC_BASE_URL, base_url / baseURL) and LangChain (base_url): they add /v1/messages themselves. "
            f"Only the Vercel AI SDK takes {root}/v1."
        )
    else:
        cause = (
            f"Nothing is served at {shown}: the API's paths begin with /v1, and the client was given a base URL "
            "without it (404 not_found_error)."
        )
        fix = (
            f"Set the base URL to {root}/v1 for the Vercel AI SDK (@ai-sdk/anthropic: the baseURL option of "
            "createAnthropic), which adds only /messages; it reads ANTHROPIC_BASE_URL too, so where Claude Code or "
            f"the Anthropic SDKs share that variable (they take {root}, without /v1), pass baseURL in code."
        )
    return dataclasses.replace(Failure.of(FailureKind.NOT_FOUND), cause=cause, fix=fix)


def _root(host: bytes | None, own_root: str) -> str:
    if host is not None and _HOST.match(host):
        return f"{own_root.partition('://')[0]}://{host.decode('ascii')}"
    return own_root


def _own_root(conn: Connection) -> str:
    """``scheme://address:port`` of the listener `conn` came in on (https when it speaks TLS)."""
    transport = conn.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    scheme = "https" if transport is not None and transport.get_extra_info("sslcontext") is not None else "http"
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return f"{scheme}://127.0.0.1"
    address, port = str(sockname[0]), int(sockname[1])
    return f"{scheme}://[{address}]:{port}" if ":" in address else f"{scheme}://{address}:{port}"
