"""The gateway's HTTP/1.1 server side: an asyncio Protocol over httptools' request parser.

Leaner than aiohttp.web's default path (docs/benchmarks.md, "Gateway"): one object per connection, one `Request`
per message, headers kept as raw bytes pairs, and a response written with at most one `transport.write` for the
head. Each request runs as one task created at message end; the connection's loss cancels it, so a client that goes
away cancels its upstream call. Pipelined requests are answered in order.

Whatever the peer does, memory and time stay bounded (`limits.HttpLimits`): the head is capped in bytes and fields
(431), a request must keep arriving and arrive whole in time (408), bodies held across all connections share one
budget (wait, then 529), open connections are capped (529), and a client that stops reading is cut after the write
timeout. Refusals the HTTP layer makes itself (`Request.refusal`) are answered in order, in the API's error shape.
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Callable, Coroutine
from typing import Any, cast

import httptools

from claudewire.gateway.limits import ALLOWED_METHODS, HttpLimits, ServerState, bad_path, refusal, status_line
from claudewire.gateway.upstream_conn import first_header, set_nodelay

__all__ = ["Connection", "Handler", "Request", "status_line"]

_MAX_PIPELINE = 16
_WRITE_HIGH_WATER = 256 * 1024
_LINGER = 2.0  # after a refusal that closes: how long unread request bytes are drained so the answer is not reset
# A request line whose method is an RFC 9110 token: what an unknown method looks like, as opposed to garbage;
# _LINE_SO_FAR is what can still become one.
_TCHAR = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_REQUEST_LINE = re.compile(rb"(?:\r\n)*(" + _TCHAR + rb"+) [!-~]+ HTTP/\d\.\d\r\n")
_LINE_SO_FAR = re.compile(rb"(?:\r\n)*" + _TCHAR + rb"*(?: [!-~]*(?: [HTP/0-9.]{0,8}\r?)?)?")
_METHOD_SCAN = 64  # bytes of a message kept while its method is read (a known method is at most 11 of them)


class _Refuse(Exception):
    """Raised from a parser callback to stop parsing; the connection already knows what to answer."""


class Request:
    """One parsed request: method, target (path and query) and headers as raw bytes, and the whole body."""

    __slots__ = ("body", "headers", "keep_alive", "method", "refusal", "reserved", "target", "too_large")

    def __init__(self, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], keep_alive: bool) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = b""
        self.keep_alive = keep_alive
        self.too_large = False
        self.refusal: bytes | None = None  # a whole response the HTTP layer answers with, no handler involved
        self.reserved = 0  # bytes of the body budget this request holds

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (give it lower-case), or None."""
        return first_header(self.headers, name)

    @property
    def path(self) -> bytes:
        """The target without its query string."""
        q = self.target.find(b"?")
        return self.target if q < 0 else self.target[:q]


Handler = Callable[["Request", "Connection"], Coroutine[Any, Any, None]]


def _method_refusal(method: bytes, *, close: bool) -> bytes:
    methods = ", ".join(m.decode() for m in sorted(ALLOWED_METHODS))
    msg = f"method {method.decode('latin-1')[:20]} is not forwarded (the API's methods: {methods})"
    return refusal(405, "invalid_request_error", msg, close=close, allow=True)


class Connection(asyncio.Protocol):
    """One client connection: parses requests, runs the handler for each, writes its response."""

    def __init__(self, handler: Handler, state: ServerState) -> None:
        self._handler = handler
        self._state = state
        self._limits: HttpLimits = state.limits
        self._parser = httptools.HttpRequestParser(self)
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._body_size = 0
        self._current: Request | None = None
        self._running: Request | None = None
        self._pending: collections.deque[Request] = collections.deque()
        self._task: asyncio.Task[None] | None = None
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._recv_handle: asyncio.TimerHandle | None = None
        self._write_handle: asyncio.TimerHandle | None = None
        self._budget_handle: asyncio.TimerHandle | None = None
        self._in_head = True  # the bytes arriving now belong to a request head
        self._head_bytes = 0
        self._receiving = False  # a request is arriving: the read timeouts apply
        self._deadline = 0.0
        self._last_read = 0.0
        self._waiting: Request | None = None  # the request whose body waits in the budget's line
        self._blocked: Request | None = None  # ... once it has arrived whole: it runs when the bytes are granted
        self._expect = False
        self._paused_pipeline = False
        self._paused_budget = False
        self._refused = False  # parsing stopped: what still arrives is drained and dropped
        self._messages = 0  # messages completed on this connection
        self._method_bytes: bytes | None = b""  # the current message so far while in its method (None: unknown)
        self._bad_line: bytes | None = None  # the parser refused the method: the request line, until it ends
        self._eof = False
        self._chunked = False
        self._close_after = False
        self.closed = False
        self.committed = False

    # --- asyncio.Protocol --------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses
        set_nodelay(self.transport)
        self.transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        state = self._state
        state.open += 1
        if state.open > self._limits.max_connections:
            msg = f"{self._limits.max_connections} client connections are open (max_connections); retry shortly"
            self._refuse("connections", refusal(529, "overloaded_error", msg, close=True, retry_after=1))
            return
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        if self._refused:
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
        except _Refuse:
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
        for handle in (self._idle_handle, self._recv_handle, self._write_handle):
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
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(ConnectionResetError("client disconnected"))

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._write_handle is None:
            self._write_handle = self._loop.call_later(self._limits.write_timeout, self._write_due)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._write_handle is not None:
            self._write_handle.cancel()
            self._write_handle = None
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _write_due(self) -> None:
        self._write_handle = None
        self._state.reaper.push(self._write_stalled)

    def _write_stalled(self) -> None:
        # the client has read nothing for write_timeout: cut it (its task is cancelled, its upstream released)
        if self._write_paused and self._write_handle is None and not self.closed:
            self._state.refused("write_timeout")
            self.abort()

    # --- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
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
            raise _Refuse

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        if len(self._headers) > self._limits.max_headers:
            self._refuse_head()
            raise _Refuse

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._in_head = False
        self._head_bytes = 0
        self._deadline = self._loop.time() + self._limits.body_timeout
        req = Request(parser.get_method(), self._url, self._headers, parser.should_keep_alive())
        self._current = req
        if parser.get_http_version() == "1.0":
            req.keep_alive = False  # keep it simple for 1.0 clients: close-delimited answers
        if req.method not in ALLOWED_METHODS:
            if req.method == b"CONNECT":
                req.keep_alive = False  # the parser stops after a CONNECT head: nothing more can be read
            req.refusal = _method_refusal(req.method, close=not req.keep_alive)
            self._state.refused("method")
            return
        why = bad_path(req.target)
        if why is not None:
            req.refusal = refusal(400, "invalid_request_error", why, close=not req.keep_alive)
            self._state.refused("path")
            return
        length = req.header(b"content-length")
        expect = (req.header(b"expect") or b"").lower() == b"100-continue"
        size = int(length) if length is not None and length.isdigit() else 0
        need = self._need(size)
        if size > self._limits.body_limit:
            req.too_large = True
            if expect:  # answer 413 now instead of waiting for a body we would throw away
                req.keep_alive = False
                self._current = None
                self._stop_reading()
                self._dispatch(req)
            return
        if size and not self._state.budget.take(need, None if self._paused_budget else self._budget_granted):
            if self._paused_budget:  # a pipelined body behind one already waiting: no second place in line
                self._refuse_budget()
                raise _Refuse
            self._paused_budget = True
            self._waiting, self._expect = req, expect
            self._pause()
            self._budget_handle = self._loop.call_later(self._limits.budget_wait, self._budget_timeout)
            return
        req.reserved = need
        if expect and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits a second for this otherwise

    def on_body(self, body: bytes) -> None:
        req = self._current
        if req is None or req.too_large or req.refusal is not None:
            return
        self._body_size += len(body)
        if self._body_size > self._limits.body_limit:
            req.too_large = True
            self._release(req)
            self._body = []
            return
        need = self._need(self._body_size)
        if need > req.reserved and not self._paused_budget:
            # a chunked body reserves as it grows; no room left: 529 rather than an unbounded wait mid-body
            if not self._state.budget.take(need - req.reserved):
                self._release(req)
                self._body = []
                self._refuse_budget()
                raise _Refuse
            req.reserved = need
        self._body.append(body)

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
        pieces, self._body = self._body, []
        if not req.too_large:
            req.body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            del pieces  # freed now: from here the joined body is all that is held
            if req is not self._waiting:
                self._settle(req)
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
                self.transport.write(req.refusal)
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
            self.close()
            return
        self._next()

    def _next(self) -> None:
        if self._pending:
            if self._paused_pipeline and len(self._pending) <= _MAX_PIPELINE // 2:
                self._paused_pipeline = False
                self._resume()
            self._run(self._pending.popleft())
        elif not self._refused:
            self._arm_idle()

    def _release(self, req: Request) -> None:
        if req.reserved:
            n, req.reserved = req.reserved, 0
            self._state.budget.give(n)

    def _need(self, size: int) -> int:
        # A body is held twice for a moment: its pieces and the bytes they are joined into. The budget counts that
        # moment, so what it admits is what is really held (capped: a body the limit allows must still fit).
        return min(2 * size, self._state.budget.capacity)

    def _settle(self, req: Request) -> None:
        # the body is whole and joined: keep only what it holds now
        held = len(req.body)
        if req.reserved > held:
            n, req.reserved = req.reserved - held, held
            self._state.budget.give(n)

    def _budget_granted(self) -> None:
        # only called while this connection waits in line (leaving the line always goes through forget())
        req, self._waiting = self._waiting, None
        self._paused_budget = False
        if self._budget_handle is not None:
            self._budget_handle.cancel()
            self._budget_handle = None
        if req is None:  # cannot happen while waiting; never keep bytes nobody holds
            return
        req.reserved = self._need(self._body_length(req))
        if req is self._blocked:
            self._blocked = None
            self._settle(req)
            self._resume()
            self._run(req)
            return
        if self._expect and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._resume()

    @staticmethod
    def _body_length(req: Request) -> int:
        length = req.header(b"content-length")
        return int(length) if length is not None and length.isdigit() else 0

    def _leave_budget_line(self) -> None:
        if self._paused_budget:
            self._paused_budget = False
            self._state.budget.forget(self._budget_granted)
        if self._waiting is not None and self._waiting is self._blocked:
            self._blocked = None
        self._waiting = None
        if self._budget_handle is not None:
            self._budget_handle.cancel()
            self._budget_handle = None

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
        found = _REQUEST_LINE.match(line)
        if found is not None:
            self._bad_line = None
            self._refuse("method", _method_refusal(found.group(1), close=True))
        elif len(line) > self._limits.head_limit:
            self._bad_line = None
            self._refuse_head()
        elif _LINE_SO_FAR.fullmatch(line) is None:
            self._bad_line = None
            self._refuse_400("malformed HTTP request")
        else:  # the line has not ended yet; the read timeouts still apply
            self._bad_line = line
            if self._recv_handle is None:
                self._arm_recv(self._last_read)

    def _refuse_400(self, message: str) -> None:
        self._refuse("malformed", refusal(400, "invalid_request_error", message, close=True))

    def _refuse_head(self) -> None:
        lim = self._limits
        msg = f"the request head is over {lim.head_limit} bytes or {lim.max_headers} header fields"
        self._refuse("head_too_large", refusal(431, "invalid_request_error", msg, close=True))

    def _refuse_budget(self) -> None:
        msg = "the gateway holds as many request bodies as its body_budget allows; retry shortly"
        self._refuse("body_budget", refusal(529, "overloaded_error", msg, close=True, retry_after=1))

    def _budget_timeout(self) -> None:
        self._budget_handle = None
        if self._paused_budget and not self.closed:
            self._leave_budget_line()
            self._refuse_budget()

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
        self._leave_budget_line()

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

    # --- writing the response (used by the handler) -------------------------------------------------------------
    def respond(self, status: int, headers: bytes, body: bytes) -> None:
        """Write a whole response: `headers` are ready-made ``name: value\\r\\n`` lines without framing headers."""
        self.committed = True
        transport = self.transport
        if transport is None:
            return
        extra = b"connection: close\r\n" if self._close_after else b""
        transport.write(
            b"".join(
                (status_line(status), headers, extra, b"content-length: ", str(len(body)).encode(), b"\r\n\r\n", body)
            )
        )

    def start(self, status: int, headers: bytes, first: bytes = b"") -> None:
        """Commit a streamed response (chunked, or close-delimited for HTTP/1.0) and write its `first` bytes."""
        self.committed = True
        transport = self.transport
        if transport is None:
            return
        if self._close_after:
            transport.write(b"".join((status_line(status), headers, b"connection: close\r\n\r\n", first)))
            return
        self._chunked = True
        head = status_line(status) + headers + b"transfer-encoding: chunked\r\n\r\n"
        if first:
            head += b"%x\r\n%b\r\n" % (len(first), first)
        transport.write(head)

    def write(self, data: bytes) -> None:
        """Write body bytes of a response begun with `start` (sent at once, never buffered here)."""
        transport = self.transport
        if transport is None or not data:
            return
        if self._chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write(data)

    async def drain(self) -> None:
        """Wait while the client reads slower than we write (only this request waits; others go on).

        A client that reads nothing for the write timeout is cut: this raises and the handler's task is cancelled.
        """
        if not self._write_paused:
            return
        if self.transport is None:
            raise ConnectionResetError("client disconnected")
        self._drain = self._loop.create_future()
        try:
            await self._drain
        finally:
            self._drain = None

    def finish(self) -> None:
        """End a response begun with `start`."""
        if self._chunked and self.transport is not None:
            self.transport.write(b"0\r\n\r\n")
        elif not self._chunked:
            self._close_after = True

    def abort(self) -> None:
        """Drop the connection at once (the client sees an incomplete response, as the upstream cut it)."""
        self._close_after = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        """Close the connection after what was written has been sent."""
        if self.transport is not None:
            self.transport.close()
