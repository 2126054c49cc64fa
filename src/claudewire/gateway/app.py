"""The gateway's request handling: auth, the policy loop around upstream attempts, faithful pass-through.

One `Gateway` per process. For every ``/v1/*`` request it asks the shared policy core (`claudewire.policy`) before
each attempt and after it, so retries, the breaker, the retry budget and adaptive rate limiting are exactly the
client's. Nothing reaches the client until an attempt is accepted: a failed attempt that the policy retries is
invisible. Streams are held only until their first content delta (`hold_first_delta`), then pass byte for byte.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import os
import ssl
import time
from dataclasses import dataclass

from claudewire._errors import Failure, FailureKind, classify
from claudewire.gateway.accesslog import AccessLog
from claudewire.gateway.config import ConfigError, GatewayConfig
from claudewire.gateway.errors import error_answer, sse_error_event
from claudewire.gateway.headers import ClientAuth, forward_headers, response_headers
from claudewire.gateway.http import Connection, Request
from claudewire.gateway.slots import Slots
from claudewire.gateway.sse import StreamScanner, Usage, json_usage, request_model
from claudewire.gateway.upstream import Upstream, UpstreamResponse
from claudewire.metrics import CONTENT_TYPE, Metrics, route_of
from claudewire.policy import BreakerState, CallState, DecisionAction, GateAction, PolicyEngine, upstream_key

__all__ = ["Gateway"]

_HOLD_MAX = 1024 * 1024  # bytes of a stream held before its first delta; past that we commit anyway
_JSON = b"content-type: application/json\r\n"


@dataclass(slots=True)
class _Outcome:
    """What one request ended as, for metrics and the access log."""

    started: float
    status: int = 0
    error: str = ""
    ttfb: float | None = None
    request_id: str = ""
    usage: Usage | None = None


class Gateway:
    """The Anthropic-native gateway: make one, serve `connection` as the protocol factory (see `server.serve`)."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        metrics: Metrics | None = None,
        access_log: AccessLog | None = None,
        upstream: Upstream | None = None,
    ) -> None:
        self.check(config)
        self.config = config
        self.metrics = metrics if metrics is not None else Metrics()
        self.engine = PolicyEngine(config.policy, hooks=self.metrics)
        context = ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None
        self.upstream = upstream or Upstream(
            config.upstream, ssl_context=context, connect_timeout=config.connect_timeout
        )
        self.key = upstream_key(config.upstream)
        self.metrics.register_upstream(self.key)
        self.in_flight = 0  # read by the gauge at scrape time: no locked update per request
        self.metrics.in_flight.set_function(lambda: self.in_flight)
        self.access_log = access_log
        self.slots = Slots(config.max_concurrency, config.max_queue)
        self.auth = ClientAuth(config.tokens, config.upstream_key)
        self._ids = itertools.count(1)
        self._worker = b"x-claudewire-worker: %d\r\n" % os.getpid()  # which --workers process answered
        self._id_prefix = f"gw_{os.getpid():x}_{int(time.time()):x}_"

    @staticmethod
    def check(config: GatewayConfig) -> None:
        """Raise ConfigError for a configuration this gateway cannot serve."""
        if len(config.upstreams) > 1 or (config.upstreams[0].keys and not config.tokens):
            # until the upstream pool drives the call flow: refuse what would otherwise be silently ignored
            raise ConfigError(
                "several upstreams, or gateway-held keys without client tokens, are not served by this build yet"
            )

    def connection(self) -> Connection:
        """A protocol instance for one client connection."""
        return Connection(self.handle, self.config.body_limit, self.config.keepalive_timeout)

    def close(self) -> None:
        """Drop pooled upstream connections and flush the access log."""
        self.upstream.close()
        if self.access_log is not None:
            self.access_log.flush()

    async def handle(self, req: Request, conn: Connection) -> None:
        """Answer one request."""
        path = req.path
        if path.startswith(b"/v1/"):
            try:
                await self._proxy(req, conn, path.decode("latin-1"))
            except Exception as exc:  # a bug of ours: still answer in the API's shape if nothing was sent yet
                if conn.committed:
                    raise
                failure = Failure.of(FailureKind.UNKNOWN, message=f"claudewire gateway internal error: {exc!r}")
                answer = error_answer(failure)
                conn.respond(500, answer.headers, answer.body)
        elif path == b"/healthz":
            conn.respond(200, _JSON + self._worker, b'{"status":"ok"}')
        elif path == b"/readyz":
            self._ready(conn)
        elif path == b"/metrics":
            conn.respond(200, b"content-type: " + CONTENT_TYPE.encode() + b"\r\n", self.metrics.render())
        else:
            failure = Failure.of(FailureKind.NOT_FOUND, message="the gateway serves /v1/*, /healthz, /readyz, /metrics")
            answer = error_answer(failure)
            conn.respond(answer.status, answer.headers, answer.body)

    def _ready(self, conn: Connection) -> None:
        # Not ready only while the breaker is open AND cooling down: once the cooldown is over the next request is
        # the half-open probe, and a load balancer that waited for /readyz would otherwise never send it.
        retry_in = self.engine.breaker_retry_in(self.key)
        if retry_in > 0 and self.engine.breaker_state(self.key) is BreakerState.OPEN:
            failure = Failure.of(FailureKind.CIRCUIT_OPEN, retry_after=retry_in)
            answer = error_answer(failure)
            conn.respond(503, answer.headers + self._worker, answer.body)
        else:
            conn.respond(200, _JSON + self._worker, b'{"status":"ready"}')

    # --- one proxied request ---------------------------------------------------------------------------------------
    async def _proxy(self, req: Request, conn: Connection, path: str) -> None:
        out = _Outcome(time.monotonic())
        self.in_flight += 1
        call = None
        try:
            if req.too_large:
                limit = self.config.body_limit
                self._answer(conn, out, Failure.of(FailureKind.REQUEST_TOO_LARGE, message=f"body over {limit} bytes"))
                return
            headers = forward_headers(req, self.auth)
            if headers is None:
                msg = "missing or wrong gateway token (send it as x-api-key or Authorization: Bearer)"
                self._answer(conn, out, Failure.of(FailureKind.AUTH, message=msg))
                return
            call = self.engine.start(self.key)
            while True:
                gate = call.gate()
                if gate.action is GateAction.WAIT:
                    await asyncio.sleep(gate.delay)
                    continue
                if gate.action is GateAction.REJECT:
                    assert gate.failure is not None
                    self._answer(conn, out, gate.failure)
                    return
                if not await self.slots.acquire():
                    call.cancel()
                    busy = f"gateway queue full ({self.slots.limit} in flight upstream, {self.slots.queue} waiting)"
                    self._answer(conn, out, Failure.of(FailureKind.OVERLOADED, retry_after=1.0, message=busy))
                    return
                try:
                    delay = await self._attempt(req, conn, headers, call, out)
                finally:
                    self.slots.release()
                if delay is None:
                    return
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            out.status, out.error = 499, "client_closed"
            if call is not None:
                call.cancel()
            raise
        finally:
            self.in_flight -= 1
            self._finish(req, path, out, call.attempts if call is not None else 0)

    def _finish(self, req: Request, path: str, out: _Outcome, attempts: int) -> None:
        duration = time.monotonic() - out.started
        route = route_of(path)
        usage = out.usage
        self.metrics.observe_request(route, out.status, out.error, duration, out.ttfb)
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            self.metrics.add_tokens(
                usage.model, usage.input_tokens, usage.output_tokens, usage.cache_read, usage.cache_creation
            )
        log = self.access_log
        if log is not None:
            model = usage.model if usage is not None and usage.model else request_model(req.body)
            log.write(
                request_id=out.request_id,
                method=req.method.decode("latin-1"),
                path=path,
                route=route,
                model=model,
                status=out.status,
                error=out.error,
                attempts=attempts,
                ttfb=out.ttfb,
                duration=duration,
                input_tokens=usage.input_tokens if usage is not None else 0,
                output_tokens=usage.output_tokens if usage is not None else 0,
            )

    def _answer(self, conn: Connection, out: _Outcome, failure: Failure, detail: str | None = None) -> None:
        out.request_id = out.request_id or f"{self._id_prefix}{next(self._ids)}"
        answer = error_answer(failure, detail=detail, request_id=out.request_id)
        conn.respond(answer.status, answer.headers, answer.body)
        out.status, out.error = answer.status, str(failure.kind)
        out.ttfb = time.monotonic() - out.started

    # --- one attempt: returns the retry delay, or None once the client has its answer ------------------------------
    async def _attempt(
        self, req: Request, conn: Connection, headers: bytes, call: CallState, out: _Outcome
    ) -> float | None:
        cfg = self.config
        resp: UpstreamResponse | None = None
        policy_headers: dict[str, str] = {}
        try:
            resp = await self.upstream.send(req.method, req.target, headers, req.body, head_within=cfg.read_timeout)
            status = resp.status
            out_headers = response_headers(resp, policy_headers)
            if (rid := policy_headers.get("request-id")) is not None:
                out.request_id = rid
            ctype = resp.header(b"content-type") or b""
            if status >= 400:
                body = await resp.read(cfg.read_timeout)
                failure = classify(status, headers=policy_headers, body=body)
                decision = call.record(failure, policy_headers)
                if decision.action is DecisionAction.RETRY:
                    return decision.delay
                conn.respond(status, out_headers, body)
                out.status, out.error = status, str(failure.kind) if failure else ""
                out.ttfb = time.monotonic() - out.started
                return None
            if ctype.startswith(b"text/event-stream"):
                # a compressed stream cannot be watched: pass it on as it comes, without the first-delta hold
                plain = resp.header(b"content-encoding") in (None, b"identity")
                return await self._stream(resp, conn, out_headers, call, policy_headers, out, sse=plain)
            if not resp.complete:
                length = resp.header(b"content-length")
                if length is None or not length.isdigit() or int(length) > _HOLD_MAX:
                    return await self._stream(resp, conn, out_headers, call, policy_headers, out, sse=False)
            body = await resp.read(cfg.read_timeout)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            failure = classify(exc)
            assert failure is not None
            decision = call.record(failure, policy_headers or None)
            if decision.action is DecisionAction.RETRY:
                return decision.delay
            self._answer(conn, out, failure)
            return None
        finally:
            if resp is not None:
                resp.close()  # no-op once released to the pool
        call.record(None, policy_headers)
        conn.respond(status, out_headers, body)
        out.status = status
        out.ttfb = time.monotonic() - out.started
        if status == 200 and ctype.startswith(b"application/json"):
            if resp.header(b"content-encoding") == b"gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError):
                    body = b""
            out.usage = json_usage(body)
        return None

    async def _stream(
        self,
        resp: UpstreamResponse,
        conn: Connection,
        out_headers: bytes,
        call: CallState,
        policy_headers: dict[str, str],
        out: _Outcome,
        *,
        sse: bool,
    ) -> float | None:
        """Pass a streamed body on as it arrives; for SSE, first hold events until the first content delta."""
        timeout = self.config.idle_timeout if sse else self.config.read_timeout
        scanner = StreamScanner() if sse else None
        held: list[bytes] = []
        ended = False
        if scanner is not None and self.config.hold_first_delta:
            size = 0
            try:
                while not (scanner.saw_delta or scanner.error is not None or size > _HOLD_MAX):
                    chunk = await resp.next_chunk(timeout)
                    if chunk is None:
                        if not scanner.saw_stop:
                            raise ConnectionResetError("the upstream ended the stream before its first delta")
                        ended = True
                        break
                    held.append(chunk)
                    size += len(chunk)
                    scanner.feed(chunk)
            except TimeoutError as exc:
                failure: Failure | None = Failure.of(FailureKind.READ_TIMEOUT, message=f"stream idle for {timeout:g}s")
                failure_exc: Exception | None = exc
            except (ConnectionError, OSError) as exc:
                failure, failure_exc = classify(exc), exc
            else:
                failure_exc = None
                failure = classify(scanner.error) if scanner.error is not None and not scanner.saw_delta else None
            decision = call.record(failure, policy_headers)
            if failure is not None:
                if decision.action is DecisionAction.RETRY:
                    return decision.delay
                if failure_exc is not None:  # nothing usable arrived: answer with an error, not a broken stream
                    self._answer(conn, out, failure)
                    return None
                out.error = str(failure.kind)  # the upstream's error event goes through as it is
        else:
            call.record(None, policy_headers)
        conn.start(resp.status, out_headers, b"".join(held))
        out.status = resp.status
        out.ttfb = time.monotonic() - out.started
        if scanner is not None:
            out.usage = scanner.usage
        while not ended:
            try:
                chunk = await resp.next_chunk(timeout)
            except TimeoutError:
                if scanner is None:
                    conn.abort()
                    out.error = str(FailureKind.READ_TIMEOUT)
                    return None
                idle = Failure.of(FailureKind.READ_TIMEOUT)
                detail = f"no bytes from the upstream for {timeout:g}s, not even a ping: stream idle timeout"
                conn.write(sse_error_event(idle, detail=detail))
                out.error = "stream_idle_timeout"
                break
            except (ConnectionError, OSError) as exc:
                if scanner is None:
                    conn.abort()
                    out.error = str(FailureKind.STREAM_INTERRUPTED)
                    return None
                cut = Failure.of(FailureKind.STREAM_INTERRUPTED)
                conn.write(sse_error_event(cut, detail=f"the upstream connection broke mid-stream: {exc}"))
                out.error = str(FailureKind.STREAM_INTERRUPTED)
                break
            if chunk is None:
                break
            conn.write(chunk)
            if scanner is not None:
                scanner.feed(chunk)
            await conn.drain()
        if scanner is not None and scanner.error is not None and not out.error:
            found = classify(scanner.error)
            out.error = str(found.kind) if found is not None else "stream_error"
        conn.finish()
        resp.release()
        return None
