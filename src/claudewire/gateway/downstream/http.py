"""The gateway's HTTP/1.1 server side: an asyncio Protocol over httptools' request parser.

Leaner than aiohttp.web's default path (docs/benchmarks.md, "Gateway"): one object per connection, one `Request`
per message, headers kept as raw bytes pairs, and a response written with at most one `transport.write` for the
head. Each request runs as one task created at message end; the connection's loss cancels it, so a client that goes
away cancels its upstream call. Pipelined requests are answered in order.

Whatever the peer does, memory and time stay bounded (`limits.HttpLimits`): the head is capped in bytes and fields
(431), a request must keep arriving and arrive whole in time (408), bodies held across all connections share one
budget (wait, then 529), open connections are capped (529), and a client that stops reading is cut after the write
timeout. Refusals the HTTP layer makes itself (`Request.refusal`) are answered in order, in the API's error shape.

Layers, each in its own module, imports pointing down: `request` (the `Request`, rules judged on a head alone),
`respond` (`ResponseWriter`: writing and the write side's flow control), `bodies` (`BodyReader`: bodies within the
budget), and here `Connection`: parsing, the request lifecycle, read timeouts and refusals.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from typing import Any

import httptools

from claudewire.gateway.downstream.bodies import BodyReader, StopParsing
from claudewire.gateway.downstream.limits import ALLOWED_METHODS, ServerState, refusal
from claudewire.gateway.downstream.request import (
    HEALTH_PATHS,
    LineVerdict,
    Request,
    body_length,
    canonical_target,
    judge_head,
    judge_request_line,
    method_refusal,
)

__all__ = ["Connection", "Handler", "Request"]

_MAX_PIPELINE = 16
_LINGER = 2.0  # after a refusal that closes: how long unread request bytes are drained so the answer is not reset
_METHOD_SCAN = 64  # bytes of a message kept while its method is read (a known method is at most 11 of them)
# Past max_connections this many more are read, for /healthz and /readyz alone (a probe must not see a busy gateway
# as a dead one), each for at most _HEALTH_WAIT seconds before its request; beyond them, 529 at once.
HEALTH_RESERVE = 16
_HEALTH_WAIT = 2.0
# What a caller that is not authenticated may send as a body: read and dropped, never held or reserved; past it the
# request is answered (401) without its body and the connection closed.
UNAUTHENTICATED_BODY = 64 * 1024


Handler = Callable[["Request", "Connection"], Coroutine[Any, Any, None]]
Authorize = Callable[["Request"], bool]


class Connection(BodyReader):
    """One client connection: parses requests and runs the handler for each (bodies and writing: the bases)."""

    def __init__(self, handler: Handler, state: ServerState, authorize: Authorize | None = None) -> None:
        super().__init__(state)
        self._handler = handler
        self._authorize = authorize  # tokens mode: whether a head carries a valid token, judged before any reservation
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._current: Request | None = None
        self._running: Request | None = None
        self._pending: collections.deque[Request] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._recv_handle: asyncio.TimerHandle | None = None
        self._in_head = True  # the bytes arriving now belong to a request head
        self._head_bytes = 0
        self._receiving = False  # a request is arriving: the read timeouts apply
        self._deadline = 0.0
        self._last_read = 0.0
        self._paused_pipeline = False
        self._refused = False  # parsing stopped: what still arrives is drained and dropped
        self._messages = 0  # messages completed on this connection
        self._method_bytes: bytes | None = b""  # the current message so far while in its method (None: unknown)
        self._bad_line: bytes | None = None  # the parser refused the method: the request line, until it ends
        self._eof = False
        self._hosts = 0  # Host fields of the head being read
        self._framed = False  # ... and whether it has a Transfer-Encoding (a body of unknown length)
        self._health_only = False  # over max_connections, in the health reserve: /healthz and /readyz only
        self._last = False  # a request that closes the connection has arrived: nothing after it is read
        self._continue_owed = False  # the request being read asked for a 100 while answers before it were due

    # --- asyncio.Protocol --------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        state = self._state
        state.open += 1
        if state.open > self._limits.max_connections:
            if state.open > self._limits.max_connections + HEALTH_RESERVE:
                self._refuse("connections", self._over_capacity())
                return
            self._health_only = True
            self._idle_handle = self._loop.call_later(_HEALTH_WAIT, self._idle_due)
            return
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._last:
            return
        self._last_read = self._loop.time()
        if self._bad_line is not None:
            self._judge_line(self._bad_line + data)
            return
        in_head = self._in_head
        if in_head:
            self._head_bytes += len(data)
        began_in, done = self._receiving, self._messages
        try:
            self._parser.feed_data(data)
        except StopParsing:
            return
        except httptools.HttpParserInvalidMethodError:
            # llhttp knows a fixed list of methods and refuses the rest before any callback: a well-formed request
            # with a method it does not know is a 405 like any other non-API method, only garbage is a 400
            known = self._method_bytes if began_in else b""
            if self._messages != done or known is None:  # it began after another message in this read: unknown
                self._refuse_400("malformed HTTP request")
            else:
                self._judge_line(known + data)
            return
        except httptools.HttpParserUpgrade:
            req = self._current
            if self._parser.get_method() not in ALLOWED_METHODS:  # CONNECT: its 405 is the answer, then close
                self._stop_reading()
                if req is not None:
                    self._current = None
                    self._dispatch(req)
            else:
                self._refuse_400("upgrades are not supported")
            return
        except httptools.HttpParserError:
            self._refuse_400("malformed HTTP request")
            return
        if self._receiving and not self._url and self._in_head:
            # still in the method: keep what this message has sent, for the judge above (unless it began mid-read)
            known = self._method_bytes if began_in else b""
            if self._messages != done or known is None or len(known) + len(data) > _METHOD_SCAN:
                self._method_bytes = None
            else:
                self._method_bytes = known + data
        # the parser keeps a header's bytes until its line ends: count what a head has taken, whatever the chunking
        if in_head and self._in_head and self._head_bytes > self._limits.head_limit:
            self._refuse_head()
        elif self._receiving and self._recv_handle is None:
            self._arm_recv(self._last_read)  # only requests that span reads pay for a timer

    def eof_received(self) -> bool | None:
        # a client that half-closes after its request (SHUT_WR) still gets its answer
        self._eof = True
        if self._task is not None or self._pending:
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        self._state.open -= 1
        for handle in (self._idle_handle, self._recv_handle):
            if handle is not None:
                handle.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()  # the client went away: stop the upstream call too
        for req in (self._current, *self._pending):
            if req is not None:
                self._release(req)
        self._pending.clear()
        self._body = []
        self._leave_budget_line()
        super().connection_lost(exc)  # the write side: its timer, a handler waiting to write
        # the parser holds this protocol for its callbacks: without this the pair is a reference cycle, freed only by
        # a full GC pass, which over thousands of closed connections stalled the loop for ~300 ms
        del self._parser

    # --- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._refused or self._last:  # the last request was read (or refused): nothing after it is parsed
            raise StopParsing
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        self._url = b""
        self._headers = []
        self._body = []
        self._body_size = 0
        self._receiving = True
        self._deadline = self._last_read + self._limits.head_timeout

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._limits.head_limit:
            msg = f"the request target is over {self._limits.head_limit} bytes"
            self._refuse("uri_too_long", refusal(414, "invalid_request_error", msg, close=True))
            raise StopParsing

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        if len(name) == 4:
            self._hosts += name.lower() == b"host"
        elif len(name) == 17:
            self._framed |= name.lower() == b"transfer-encoding"
        if len(self._headers) > self._limits.max_headers:
            self._refuse_head()
            raise StopParsing

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._in_head = False
        self._head_bytes = 0
        self._deadline = self._loop.time() + self._limits.body_timeout
        # one canonical target, computed before any decision: what is routed, limited, logged and forwarded
        target = canonical_target(self._url)
        method = parser.get_method()
        req = Request(method, target if isinstance(target, bytes) else b"", self._headers, parser.should_keep_alive())
        self._current = req
        http10 = parser.get_http_version() == "1.0"
        hosts, self._hosts = self._hosts, 0
        framed, self._framed = self._framed, False
        if http10 or method == b"CONNECT":
            req.keep_alive = False  # 1.0: close-delimited answers; CONNECT: the parser stops after its head
        size = body_length(req)
        judged = judge_head(method, target, hosts, http10)
        if judged is not None:
            self._state.refused(judged.reason)
            req.refusal = judged.answer(close=not req.keep_alive or size > 0 or framed)
            if size > 0 or framed:  # its body is never parsed: answered now, and the connection closed
                self._answer_now(req)
            return
        if self._health_only:
            if req.path not in HEALTH_PATHS or method not in (b"GET", b"HEAD"):
                self._state.refused("connections")
                self._answer_now(req, self._over_capacity())
            req.keep_alive = False
        expect = (req.header(b"expect") or b"").lower() == b"100-continue"
        if self._authorize is not None and not self._authorize(req):
            # not one of our callers: nothing reserved, its body read and dropped (the handler answers 401)
            req.discard = True
            if size > UNAUTHENTICATED_BODY or expect:
                self._answer_now(req)
            return
        if size > self._limits.body_limit:
            req.too_large = True
            self._answer_now(req)  # 413 now, never waiting for (nor parsing) a body we would throw away
        self._reserve(req, size, expect)

    def _answer_now(self, req: Request, answer: bytes | None = None) -> None:
        """Answer `req` without its body (the handler, or `answer`), in order; nothing more is read: the connection
        closes after it."""
        if answer is not None:
            req.refusal = answer
        req.keep_alive = False
        self._current = None
        self._stop_reading()
        self._dispatch(req)
        raise StopParsing

    def on_body(self, body: bytes) -> None:
        req = self._current
        if req is None or req.refusal is not None:
            return
        if req.discard:
            self._body_size += len(body)
            if self._body_size > UNAUTHENTICATED_BODY:
                self._answer_now(req)
            return
        if not self._add_piece(req, body):
            self._answer_now(req)  # over body_limit: 413 now, the rest never parsed

    def on_message_complete(self) -> None:
        self._messages += 1
        self._in_head = True
        self._head_bytes = 0
        self._receiving = False
        if self._recv_handle is not None:
            self._recv_handle.cancel()
            self._recv_handle = None
        req = self._current
        if req is None:
            return
        self._current = None
        self._continue_owed = False
        self._last = not req.keep_alive
        self._whole(req)
        self._dispatch(req)

    # --- request lifecycle ----------------------------------------------------------------------------------------
    def _dispatch(self, req: Request) -> None:
        if self._task is None and self._blocked is None:
            if self._pending:  # what is due goes first
                self._pending.append(req)
                req = self._pending.popleft()
            self._run(req)
            return
        self._pending.append(req)
        if len(self._pending) >= _MAX_PIPELINE and not self._paused_pipeline:
            self._paused_pipeline = True
            self._pause()

    def _run(self, req: Request) -> None:
        while True:
            self.committed = False
            self._chunked = False
            self._close_after = not req.keep_alive
            self._head_only = req.method == b"HEAD"
            if req is self._waiting:  # whole, but its bytes are not granted yet: it runs from _budget_granted
                self._blocked = req
                return
            if req.refusal is None:
                self._running = req
                self._task = task = self._loop.create_task(self._handler(req, self))
                task.add_done_callback(self._done)
                return
            self._release(req)
            if self.transport is not None:
                answer = req.refusal
                # a HEAD answer is the head a GET would get, and no byte more: the next answer follows it directly
                self.transport.write(answer[: answer.index(b"\r\n\r\n") + 4] if self._head_only else answer)
            if self._close_after or (self._eof and not self._pending):
                self._linger()
                return
            if not self._pending:
                self._next()
                return
            req = self._pending.popleft()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        if self._running is not None:
            self._release(self._running)
            self._running = None
        if self.closed:
            return
        if not task.cancelled() and task.exception() is not None:
            # the handler failed after committing (or could not answer): the stream is unusable
            self.abort()
            return
        if self._close_after or (self._eof and not self._pending):
            if self._refused:  # answered before its body was read: unread bytes must not reset the answer
                self._linger()
            else:
                self.close()
            return
        self._next()

    def _next(self) -> None:
        if self._pending:
            if self._paused_pipeline and len(self._pending) <= _MAX_PIPELINE // 2:
                self._paused_pipeline = False
                self._resume()
            self._run(self._pending.popleft())
            return
        if self._continue_owed:  # the request being read is the current one now: its 100 is due
            self._continue_owed = False
            if self._current is not None and not self._body_size:
                super()._continue()
        if not self._refused and not self._receiving:
            self._arm_idle()

    def _continue(self) -> None:
        # a 100 Continue belongs to the request being read: written only once every answer before it is out, never
        # in the middle of another answer (a stream's chunked body)
        if self._task is None and self._blocked is None and not self._pending:
            super()._continue()
        else:
            self._continue_owed = True

    # --- timers and refusals --------------------------------------------------------------------------------------
    # One timer handle per connection at most per kind, armed only when needed; when one fires it only queues its
    # work on the server's reaper, which runs a batch per loop iteration (a mass of timeouts never stalls the loop).
    def _arm_idle(self) -> None:
        if self._limits.keepalive_timeout > 0:
            self._idle_handle = self._loop.call_later(self._limits.keepalive_timeout, self._idle_due)

    def _idle_due(self) -> None:
        self._idle_handle = None
        self._state.reaper.push(self._idle_over)

    def _idle_over(self) -> None:
        # still idle (no request began, none re-armed the timer since): close
        if self._idle_handle is None and not (self._receiving or self._refused or self._task or self._pending):
            self.close()

    def _arm_recv(self, now: float) -> None:
        if self._recv_handle is not None:
            self._recv_handle.cancel()
        at = min(self._deadline, self._last_read + self._limits.read_timeout)
        self._recv_handle = self._loop.call_at(max(at, now + 0.001), self._recv_due)

    def _recv_due(self) -> None:
        self._recv_handle = None
        self._state.reaper.push(self._check_recv)

    def _check_recv(self) -> None:
        if self._refused or self.closed or not self._receiving:
            return
        now = self._loop.time()
        if self._paused_budget or self._paused_pipeline:
            # we stopped reading, not the client: its clock starts again when we read again
            self._last_read = now
            self._deadline = max(self._deadline, now + self._limits.read_timeout)
        elif now >= self._deadline or now - self._last_read >= self._limits.read_timeout:
            what = "request head" if self._in_head else "request body"
            if now >= self._deadline:
                total = self._limits.head_timeout if self._in_head else self._limits.body_timeout
                why = f"the {what} did not arrive whole within {total:g}s"
            else:
                why = f"the client sent nothing for {self._limits.read_timeout:g}s in the middle of its {what}"
            self._refuse("request_timeout", refusal(408, "timeout_error", why, close=True))
            return
        self._arm_recv(now)

    def _judge_line(self, line: bytes) -> None:
        """The parser refused a method: 405 once the request line has arrived well-formed, 400 for garbage."""
        verdict, method = judge_request_line(line, self._limits.head_limit)
        self._bad_line = line if verdict is LineVerdict.MORE else None
        if verdict is LineVerdict.METHOD:
            self._refuse("method", method_refusal(method, close=True))
        elif verdict is LineVerdict.TOO_LONG:
            self._refuse_head()
        elif verdict is LineVerdict.GARBAGE:
            self._refuse_400("malformed HTTP request")
        elif self._recv_handle is None:  # not ended yet; the read timeouts still apply
            self._arm_recv(self._last_read)

    def _refuse_400(self, message: str) -> None:
        self._refuse("malformed", refusal(400, "invalid_request_error", message, close=True))

    def _refuse_head(self) -> None:
        lim = self._limits
        msg = f"the request head is over {lim.head_limit} bytes or {lim.max_headers} header fields"
        self._refuse("head_too_large", refusal(431, "invalid_request_error", msg, close=True))

    def _refuse(self, reason: str, answer: bytes) -> None:
        """Stop parsing; answer `answer` after the responses already due, then close."""
        if self._refused:
            return
        self._state.refused(reason)
        self._stop_reading()
        if self._current is not None:
            self._release(self._current)
            self._current = None
        self._body = []  # a body cut short is not kept while the answer lingers
        req = Request(b"", b"", [], False)
        req.refusal = answer
        self._dispatch(req)

    def _stop_reading(self) -> None:
        self._refused = True
        for handle in (self._recv_handle, self._idle_handle):
            if handle is not None:
                handle.cancel()
        self._recv_handle = self._idle_handle = None
        blocked = self._blocked if self._waiting is self._blocked else None
        self._leave_budget_line()
        if blocked is not None:  # whole, still waiting for its bytes: answered 529 in its place, before what follows
            blocked.refusal = self._budget_refusal()
            self._pending.appendleft(blocked)

    def _over_capacity(self) -> bytes:
        msg = f"{self._limits.max_connections} client connections are open (max_connections); retry shortly"
        return refusal(529, "overloaded_error", msg, close=True, retry_after=1)

    def _linger(self) -> None:
        # Closing with unread bytes would reset the connection and could destroy the answer before the client
        # reads it: send FIN, drop what still comes, and abort after a short while.
        transport = self.transport
        if transport is None:
            return
        self._refused = True
        self._paused_pipeline = False
        self._leave_budget_line()
        self._resume()
        if transport.can_write_eof():
            transport.write_eof()
            self._loop.call_later(_LINGER, self._state.reaper.push, self.abort)
        else:
            transport.close()

    def _pause(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def _resume(self) -> None:
        if self.transport is not None and not self._paused_pipeline and not self._paused_budget:
            self.transport.resume_reading()
