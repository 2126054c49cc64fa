"""The gateway's HTTP/1.1 server side: an asyncio Protocol over httptools' request parser.

Leaner than aiohttp.web's default path (docs/benchmarks.md, "Gateway"): one object per connection, one `Request`
per message, headers kept as raw bytes pairs, and a response written with at most one `transport.write` for the
head. Each request runs as one task created at message end; the connection's loss cancels it, so a client that goes
away cancels its upstream call. Pipelined requests are answered in order.

Whatever the peer does, memory and time stay bounded (`limits.HttpLimits`): the head is capped in bytes and fields
(431), a request must keep arriving and arrive whole in time (408), bodies held across all connections share one
budget (wait, then 529), open connections are capped (529), and a client that stops reading is cut after the write
timeout. Refusals the HTTP layer makes itself (`Request.refusal`) are answered in order, in the API's error shape.

Parts, each in its own module, imports pointing down: `request` (the `Request`, rules judged on a head alone),
`respond` (`ResponseWriter`: writing and the write side's flow control), `bodies` (`BodyReader`: bodies within the
budget), `deadlines` (`ReadDeadlines`: the read side's timers), `answers` (`Answers`: the requests due, answered in
order), and here `Connection`, which owns one of each (composition, as uvicorn's protocol owns its flow control; no
part calls into a class above it, each is told what it needs through callbacks) and keeps parsing and refusals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, cast

import httptools

from claudewire.gateway.downstream.answers import Answers
from claudewire.gateway.downstream.bodies import BodyReader, Grant, Piece, StopParsing, budget_refusal
from claudewire.gateway.downstream.deadlines import ReadDeadlines
from claudewire.gateway.downstream.limits import (
    ALLOWED_METHODS,
    HEALTH_RESERVE,
    HEALTH_WAIT,
    UNAUTHENTICATED_BODY,
    ServerState,
    head_too_large,
    malformed,
    over_capacity,
    refusal,
)
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
from claudewire.gateway.downstream.respond import ResponseWriter

__all__ = ["Connection", "Handler", "Request"]

_LINGER = 2.0  # after a refusal that closes: how long unread request bytes are drained so the answer is not reset
_METHOD_SCAN = 64  # bytes of a message kept while its method is read (a known method is at most 11 of them)


Handler = Callable[["Request", "Connection"], Coroutine[Any, Any, None]]
Authorize = Callable[["Request"], bool]


class Connection(asyncio.Protocol):
    """One client connection: parses requests and runs the handler for each; it owns its body reader and its writer.

    A handler answers through `respond`, or `start`, `write` (with `drain`) and `finish`; `abort` and `close` end the
    connection: they are its `ResponseWriter`'s own methods.
    """

    respond: Callable[[int, bytes, bytes], None]
    start: Callable[[int, bytes, bytes], None]
    write: Callable[[bytes], None]
    drain: Callable[[], Coroutine[Any, Any, None]]
    finish: Callable[[], None]
    abort: Callable[[], None]
    close: Callable[[], None]

    def __init__(self, handler: Handler, state: ServerState, authorize: Authorize | None = None) -> None:
        self._state = state
        self._limits = state.limits
        self._loop = asyncio.get_running_loop()
        self._writer = writer = ResponseWriter(state)
        self._reader = BodyReader(state, self._budget_granted, self._budget_timed_out)
        self._clock = ReadDeadlines(state, self._idle_over, self._check_recv)
        run = lambda req: handler(req, self)  # noqa: E731
        self._answers = Answers(self._reader, writer, run, self._end, self._quiet, self._pause, self._resume)
        self.respond, self.start, self.write, self.drain = writer.respond, writer.start, writer.write, writer.drain
        self.finish, self.abort, self.close = writer.finish, writer.abort, writer.close
        self._transport: asyncio.Transport | None = None
        self._authorize = authorize  # tokens mode: whether a head carries a valid token, judged before any reservation
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._current: Request | None = None
        self._in_head = True  # the bytes arriving now belong to a request head
        self._head_bytes = 0
        self._receiving = False  # a request is arriving: the read timeouts apply
        self._refused = False  # parsing stopped: what still arrives is drained and dropped
        self._messages = 0  # messages completed on this connection
        self._method_bytes: bytes | None = b""  # the current message so far while in its method (None: unknown)
        self._bad_line: bytes | None = None  # the parser refused the method: the request line, until it ends
        self._hosts = 0  # Host fields of the head being read
        self._framed = False  # ... and whether it has a Transfer-Encoding (a body of unknown length)
        self._health_only = False  # over max_connections, in the health reserve: /healthz and /readyz only
        self._last = False  # a request that closes the connection has arrived: nothing after it is read
        self._continue_owed = False  # the request being read asked for a 100 while answers before it were due

    @property
    def committed(self) -> bool:
        """Whether the answer's status line is written (a failure can no longer be answered as an error)."""
        return self._writer.committed

    @property
    def transport(self) -> asyncio.Transport | None:
        """The client's transport while the connection is open (its addresses, whether it speaks TLS)."""
        return self._transport

    @property
    def closed(self) -> bool:
        """Whether the client connection is gone."""
        return self._writer.closed

    # --- asyncio.Protocol --------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio subclasses
        self._writer.attach(transport)
        state = self._state
        state.open += 1
        if state.open > self._limits.max_connections:
            if state.open > self._limits.max_connections + HEALTH_RESERVE:
                self._refuse("connections", over_capacity(self._limits))
                return
            self._health_only = True
            self._clock.idle(HEALTH_WAIT)
            return
        self._clock.idle()

    def data_received(self, data: bytes) -> None:
        if self._refused or self._last:
            return
        self._clock.last_read = self._loop.time()
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
                self._refuse("malformed", malformed("malformed HTTP request"))
            else:
                self._judge_line(known + data)
            return
        except httptools.HttpParserUpgrade:
            req = self._current
            if self._parser.get_method() not in ALLOWED_METHODS:  # CONNECT: its 405 is the answer, then close
                self._stop_reading()
                if req is not None:
                    self._current = None
                    self._answers.add(req)
            else:
                self._refuse("malformed", malformed("upgrades are not supported"))
            return
        except httptools.HttpParserError:
            self._refuse("malformed", malformed("malformed HTTP request"))
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
            self._refuse("head_too_large", head_too_large(self._limits))
        elif self._receiving and not self._clock.watching:
            self._clock.watch(self._clock.last_read)  # only requests that span reads pay for a timer

    def pause_writing(self) -> None:
        self._writer.pause_writing()

    def resume_writing(self) -> None:
        self._writer.resume_writing()

    def eof_received(self) -> bool | None:
        # a client that half-closes after its request (SHUT_WR) still gets its answer
        answers = self._answers
        answers.eof = True
        return True if answers.task is not None or answers.pending else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._state.open -= 1
        self._clock.lost()
        self._answers.lost()  # the handler is cancelled: a client that went away stops its upstream call too
        if self._current is not None:
            self._reader.release(self._current)
        self._answers.unblock()
        self._reader.lost()
        self._writer.lost()  # the write side: its timer, a handler waiting to write
        # the parser holds this protocol for its callbacks: without this the pair is a reference cycle, freed only by
        # a full GC pass, which over thousands of closed connections stalled the loop for ~300 ms (the parts above
        # drop their callbacks into this connection for the same reason)
        del self._parser

    # --- httptools callbacks -------------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._refused or self._last:  # the last request was read (or refused): nothing after it is parsed
            raise StopParsing
        self._clock.head_began()
        self._url = b""
        self._headers = []
        self._reader.begin()
        self._receiving = True

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
            self._refuse("head_too_large", head_too_large(self._limits))
            raise StopParsing

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._in_head = False
        self._head_bytes = 0
        self._clock.body_began()
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
                self._answer_now(req, over_capacity(self._limits))
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
        grant = self._reader.reserve(req, size, expect)
        if grant is Grant.LATER:
            self._pause()  # until the bytes are granted (`_budget_granted`) or budget_wait runs out
        elif grant is Grant.NO_ROOM:
            self._refuse_budget()
            raise StopParsing
        elif expect:
            self._continue()

    def _answer_now(self, req: Request, answer: bytes | None = None) -> None:
        """Answer `req` without its body (the handler, or `answer`), in order; nothing more is read: the connection
        closes after it."""
        if answer is not None:
            req.refusal = answer
        req.keep_alive = False
        self._current = None
        self._stop_reading()
        self._answers.add(req)
        raise StopParsing

    def on_body(self, body: bytes) -> None:
        req = self._current
        if req is None or req.refusal is not None:
            return
        reader = self._reader
        if req.discard:
            reader.size += len(body)
            if reader.size > UNAUTHENTICATED_BODY:
                self._answer_now(req)
            return
        piece = reader.add(req, body)
        if piece is Piece.TOO_LARGE:
            self._answer_now(req)  # over body_limit: 413 now, the rest never parsed
        elif piece is Piece.NO_ROOM:
            self._refuse_budget()
            raise StopParsing

    def on_message_complete(self) -> None:
        self._messages += 1
        self._in_head = True
        self._head_bytes = 0
        self._receiving = False
        self._clock.unwatch()
        req = self._current
        if req is None:
            return
        self._current = None
        self._continue_owed = False
        self._last = not req.keep_alive
        self._reader.whole(req)
        self._answers.add(req)

    # --- what the answers tell their connection -------------------------------------------------------------------
    def _end(self, refused: bool) -> None:
        # the last answer is out: a connection that stopped reading mid-request (or refused) must not reset it
        if refused or self._refused:
            self._linger()
        else:
            self.close()

    def _quiet(self) -> None:
        if self._continue_owed:  # the request being read is the current one now: its 100 is due
            self._continue_owed = False
            if self._current is not None and not self._reader.size:
                self._writer.interim_continue()
        if not self._refused and not self._receiving:
            self._clock.idle()

    def _continue(self) -> None:
        # a 100 Continue belongs to the request being read: written only once every answer before it is out, never
        # in the middle of another answer (a stream's chunked body)
        if not self._answers.due:
            self._writer.interim_continue()
        else:
            self._continue_owed = True

    def _budget_granted(self, req: Request, expect: bool) -> None:
        # the reader was waiting in the budget's line (reading paused) and now holds `req`'s bytes
        if self._answers.granted(req):
            return
        if expect:
            self._continue()
        self._resume()

    # --- timers and refusals --------------------------------------------------------------------------------------
    def _idle_over(self) -> None:
        # still idle (no request began, none re-armed the timer since): close
        if not self._clock.idle_armed and not (self._receiving or self._refused or self._answers.due):
            self.close()

    def _check_recv(self) -> None:
        if self._refused or self._writer.closed or not self._receiving:
            return
        why = self._clock.late(self._in_head, paused=self._reader.waiting is not None or self._answers.paused)
        if why is not None:
            self._refuse("request_timeout", refusal(408, "timeout_error", why, close=True))

    def _judge_line(self, line: bytes) -> None:
        """The parser refused a method: 405 once the request line has arrived well-formed, 400 for garbage."""
        verdict, method = judge_request_line(line, self._limits.head_limit)
        self._bad_line = line if verdict is LineVerdict.MORE else None
        if verdict is LineVerdict.METHOD:
            self._refuse("method", method_refusal(method, close=True))
        elif verdict is LineVerdict.TOO_LONG:
            self._refuse("head_too_large", head_too_large(self._limits))
        elif verdict is LineVerdict.GARBAGE:
            self._refuse("malformed", malformed("malformed HTTP request"))
        elif not self._clock.watching:  # not ended yet; the read timeouts still apply
            self._clock.watch(self._clock.last_read)

    def _refuse(self, reason: str, answer: bytes) -> None:
        """Stop parsing; answer `answer` after the responses already due, then close."""
        if self._refused:
            return
        self._state.refused(reason)
        self._stop_reading()
        if self._current is not None:
            self._reader.release(self._current)
            self._current = None
        self._reader.pieces = []  # a body cut short is not kept while the answer lingers
        req = Request(b"", b"", [], False)
        req.refusal = answer
        self._answers.add(req)

    def _stop_reading(self) -> None:
        """Read nothing more (a request waiting whole for the budget is answered 529 in its place)."""
        self._refused = True
        self._clock.stop()
        blocked = self._answers.unblock()
        self._reader.leave_line()
        if blocked is not None:  # whole, still waiting for its bytes: answered 529 in its place, before what follows
            blocked.refusal = budget_refusal()
            self._answers.pending.appendleft(blocked)

    def _refuse_budget(self) -> None:
        self._refuse("body_budget", budget_refusal())

    def _budget_timed_out(self) -> None:
        # the reader waited budget_wait in the line and has left it: this 529 answers its request, blocked or not
        self._answers.unblock()
        self._refuse_budget()

    def _linger(self) -> None:
        # Closing with unread bytes would reset the connection and could destroy the answer before the client
        # reads it: send FIN, drop what still comes, and abort after a short while.
        transport = self._transport
        if transport is None:
            return
        self._refused = True
        self._answers.paused = False
        self._answers.unblock()
        self._reader.leave_line()
        self._resume()
        if transport.can_write_eof():
            transport.write_eof()
            self._loop.call_later(_LINGER, self._state.reaper.push, self.abort)
        else:
            transport.close()

    def _pause(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def _resume(self) -> None:
        if self._transport is not None and not self._answers.paused and self._reader.waiting is None:
            self._transport.resume_reading()
