"""The gateway's request handling: auth, the call flow around upstream attempts, faithful pass-through.

One `Gateway` per process. Every ``/v1/*`` request is driven by the one call flow (`claudewire.policy.flow`) that
the client drives too, so retries, the breaker, the retry budget, adaptive rate limiting and the deadline are
exactly the client's. The call's deadline is the policy's, shortened to the caller's own ``x-stainless-timeout``
when it sends one. Each attempt is an `exchange` (nothing reaches the client) and only the accepted one is
`deliver`ed: a failed attempt that the flow retries is invisible. Streams are held only until their first content
delta (`hold_first_delta`), then pass byte for byte. The gateway's own unexpected errors are logged with their
traceback (``claudewire.gateway``) and answered in the API's error shape.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import time
from typing import TYPE_CHECKING

from claudewire._clock import Clock
from claudewire._errors import Failure, FailureKind
from claudewire._sse import request_model
from claudewire.gateway.accesslog import AccessLog
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.console_feed import Attempt, FinishedCall, facts_reader, outcome
from claudewire.gateway.downstream.clients import ClientGate, counted_tokens
from claudewire.gateway.downstream.console import CallRing, Console
from claudewire.gateway.downstream.errors import error_answer
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.limits import ServerState
from claudewire.gateway.downstream.slots import Slots
from claudewire.gateway.exchange import Trace, deliver, exchange, wants_stream
from claudewire.gateway.headers import ClientAuth, forward_headers
from claudewire.gateway.routing import Routing, strip_credentials
from claudewire.gateway.upstream.pool import Upstream
from claudewire.metrics import CONTENT_TYPE, Metrics, route_of
from claudewire.policy import MultiHooks, OneTarget, Outcome, PolicyEngine, Reject, Wait, call_flow
from claudewire.state import StateBackend, Ticket, open_state
from claudewire.state.sync import SharedPolicy
from claudewire.telemetry import OtlpSettings, start

if TYPE_CHECKING:
    from claudewire.telemetry.genai import CallTrace, GatewayTelemetry

__all__ = ["Gateway"]

_JSON = b"content-type: application/json\r\n"
_log = logging.getLogger("claudewire.gateway")


class Gateway:
    """The Anthropic-native gateway: make one, serve `connection` as the protocol factory (see `server.serve`)."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        metrics: Metrics | None = None,
        access_log: AccessLog | None = None,
        upstream: Upstream | None = None,
        clock: Clock | None = None,
        state: StateBackend | None = None,
        telemetry: GatewayTelemetry | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else Metrics()
        self.clock = clock or Clock()
        self.state = (
            state
            if state is not None
            else open_state(
                config.state, namespace=config.state_prefix, timeout=config.state_timeout, ca_file=config.state_ca_file
            )
        )
        # breaker openings, keys out after a 401 and session bindings reach every replica sharing the state
        # (memory: nobody); so does the retry budget's count
        self.shared = SharedPolicy(
            self.state.publish,
            ttl=config.affinity_ttl,
            max_sessions=config.affinity_sessions,
            sessions=self.state if self.state.shared else None,
        )
        self.state.listen(self.shared.receive)
        hooks = MultiHooks(self.metrics, self.shared)
        spec = config.policy.retry_budget
        budget = self.state.retry_budget(spec) if spec is not None else None
        clock = self.clock
        self.engine = PolicyEngine(config.policy, clock=clock.now, wall=clock.wall, hooks=hooks, budget=budget)
        if budget is not None:
            self.metrics.retry_budget_left.set_function(lambda: budget.available(self.clock.now()))
        self.shared.bind(self.engine)
        self.routing = Routing(config, self.engine, self.metrics, upstream=upstream, state=self.shared)
        # a session's binding is read from the store only where there is a choice to agree on
        self.shared_sessions = self.state.shared and len(self.routing.targets) > 1
        self.upstream = self.routing.upstreams[config.upstreams[0].name]  # the first configured upstream's pool
        self.telemetry = telemetry if telemetry is not None else _telemetry(config)  # None: OTLP export off
        self.in_flight = 0  # read by the gauge at scrape time: no locked update per request
        self.metrics.in_flight.set_function(lambda: self.in_flight)
        self.access_log = access_log
        self.slots = Slots(config.max_concurrency, config.max_queue)
        held = [key for spec in config.upstreams for key in spec.keys]
        self.auth = ClientAuth(config.tokens, None, ((c.name, c.token_sha256) for c in config.clients), held)
        self.clients = ClientGate(config.clients, self.state, on_local=self.metrics.state_local.inc)
        self.metrics.state_up.set_function(lambda: 1.0 if self.state.up else 0.0)
        self.http = ServerState(config.http_limits(), on_refused=self.metrics.on_refused)
        self.metrics.client_connections.set_function(lambda: self.http.open)
        self.metrics_address: tuple[str, int] | None = None  # set by the server when /metrics has its own port
        self.console: Console | None = None  # /console: a ring of the last calls and the page that shows them
        if config.console_calls:
            facts = facts_reader(self.routing, self.engine, self.metrics)
            admits = self.auth.admits if self.auth.tokens else None  # like /metrics: a gateway token in tokens mode
            self.console = Console(CallRing(config.console_calls), facts=facts, clients=config.clients, admits=admits)
        self._ids = itertools.count(1)
        self._worker = b"x-claudewire-worker: %d\r\n" % os.getpid()  # which --workers process answered
        self._id_prefix = f"gw_{os.getpid():x}_{int(time.time()):x}_"

    def connection(self) -> Connection:
        """A protocol instance for one client connection."""
        return Connection(self.handle, self.http)

    def close(self) -> None:
        """Drop pooled upstream connections and flush the access log."""
        self.routing.close()
        if self.console is not None:
            self.console.close()  # its open event streams end
        if self.access_log is not None:
            self.access_log.flush()
        if self.telemetry is not None:
            self.telemetry.shutdown()  # the last metrics and spans go out

    async def handle(self, req: Request, conn: Connection) -> None:
        """Answer one request."""
        path = req.path
        if path.startswith(b"/v1/"):
            try:
                await self._proxy(req, conn, path.decode("latin-1"))
            except Exception as exc:  # a bug of ours: log it, and still answer in the API's shape if we can
                _log.exception("internal error answering %s %s", req.method.decode("latin-1"), path[:200])
                if conn.committed:
                    raise
                failure = Failure.of(FailureKind.UNKNOWN, message=f"claudewire gateway internal error: {exc!r}")
                answer = error_answer(failure)
                conn.respond(500, answer.headers, answer.body)
        elif path == b"/healthz":
            conn.respond(200, _JSON + self._worker, b'{"status":"ok"}')
        elif path == b"/readyz":
            self._ready(conn)
        elif path == b"/metrics" and self.config.metrics_port is None:
            if self.auth.tokens and not self.auth.admits(req):  # model names and the upstream are not for anyone
                msg = "/metrics needs a gateway token here (or serve it apart with --metrics-port)"
                answer = error_answer(Failure.of(FailureKind.AUTH, message=msg))
                conn.respond(answer.status, answer.headers, answer.body)
                return
            self.metrics_answer(conn)
        elif (path == b"/console" or path.startswith(b"/console/")) and self.console is not None:
            await self.console.handle(req, conn)
        else:
            served = "/v1/*, /healthz, /readyz, /metrics" + (", /console" if self.console is not None else "")
            failure = Failure.of(FailureKind.NOT_FOUND, message=f"the gateway serves {served}")
            answer = error_answer(failure)
            conn.respond(answer.status, answer.headers, answer.body)

    def metrics_answer(self, conn: Connection) -> None:
        """Answer with the Prometheus exposition."""
        conn.respond(200, b"content-type: " + CONTENT_TYPE.encode() + b"\r\n", self.metrics.render())

    def _ready(self, conn: Connection) -> None:
        # Not ready only while no upstream can take traffic: an open breaker whose cooldown is over counts as able
        # (the next request is its half-open probe, and a balancer waiting for /readyz would never send it).
        ready, retry_in, body = self.routing.readiness()
        if ready:
            conn.respond(200, _JSON + self._worker, body)
        else:
            wait = b"retry-after: %d\r\n" % max(1, math.ceil(retry_in))
            conn.respond(503, _JSON + wait + self._worker, body)

    # --- one proxied request: the driver of the call flow ---------------------------------------------------------
    def deadline(self, req: Request) -> float | None:
        """Seconds this call may take in all: the policy's deadline, or the caller's own timeout if shorter."""
        deadline = self.config.policy.deadline
        raw = req.header(b"x-stainless-timeout")
        if raw is not None:
            try:
                caller = float(raw)
            except ValueError:
                caller = math.nan
            if caller > 0 and math.isfinite(caller) and (deadline is None or caller < deadline):
                deadline = caller
        return deadline

    async def _proxy(self, req: Request, conn: Connection, path: str) -> None:
        out = Trace(time.monotonic())
        self.in_flight += 1
        attempts = 0
        ticket: Ticket | None = None  # a named client's reservation, settled in _finish
        served = client = ""
        tried: list[Attempt] = []  # for the console (until the call record lands)
        waited = 0.0
        stream = False
        otel = self._otel(req, path)
        try:
            if req.too_large:
                limit = self.config.body_limit
                self._answer(conn, out, Failure.of(FailureKind.REQUEST_TOO_LARGE, message=f"body over {limit} bytes"))
                return
            forwarded = forward_headers(req, self.auth)
            if forwarded is None:
                msg = "missing or wrong gateway token (send it as x-api-key or Authorization: Bearer)"
                self._answer(conn, out, Failure.of(FailureKind.AUTH, message=msg))
                return
            headers, client = forwarded
            chooser = self.routing.chooser(req)
            session = None if isinstance(chooser, OneTarget) else chooser.session  # OneTarget: no session id sent
            fetch = None
            if session and self.shared_sessions:  # a task: its read joins the admission's round trip
                fetch = asyncio.get_running_loop().create_task(self.shared.fetch_session(session))
            if client and self.clients.clients:  # a named client: its models and limits, before the flow starts
                verdict = await self.clients.check(client, route_of(path), req.method, req.body)
                self.metrics.client_request(client, verdict.outcome)
                if verdict.refusal is not None:
                    self._answer(conn, out, verdict.refusal.failure, extra=verdict.refusal.headers)
                    return
                ticket = verdict.ticket
            if fetch is not None:
                await fetch
            stream = wants_stream(req.body)
            stripped: bytes | None = None
            flow = call_flow(self.engine, chooser, deadline=self.deadline(req), logger=_log)
            try:
                step = next(flow)
                while True:
                    if isinstance(step, Wait):
                        if otel is not None:
                            otel.waiting(step.delay, step.failure)
                        await self.clock.asleep(step.delay)
                        waited += step.delay
                        step = flow.send(None)
                        continue
                    if isinstance(step, Reject):
                        self._answer(conn, out, step.failure)
                        return
                    attempts = step.attempt
                    if not await self.slots.acquire():
                        busy = f"gateway queue full ({self.slots.limit} in flight upstream, {self.slots.queue} waiting)"
                        self._answer(conn, out, Failure.of(FailureKind.OVERLOADED, retry_after=1.0, message=busy))
                        return
                    target = step.target
                    if otel is not None:
                        state = str(self.engine.breaker_state(target.key))
                        otel.attempt(
                            attempts, target.key, state, target.upstream.target.host, target.upstream.target.port
                        )
                    sent = headers
                    if target.key_line:  # a gateway-held key replaces the client's credentials
                        if stripped is None:
                            stripped = headers if self.config.token_mode else strip_credentials(headers)
                        sent = stripped + target.key_line
                    try:  # the slot is held until the accepted answer is delivered
                        ex = await exchange(target.upstream, req, sent, self.config, stream=stream, within=step.timeout)
                        if (rid := ex.headers.get("request-id")) is not None:
                            out.request_id = rid
                        if otel is not None:
                            otel.attempt_done(ex.status, ex.failure)
                        tried.append(Attempt(target.key, outcome(ex.status, ex.failure), waited))
                        waited = 0.0
                        try:
                            step = flow.send(Outcome(ex.failure, ex.headers or None))
                        except StopIteration:  # done, or given up: this attempt's answer is the call's
                            served = target.name
                            if self.shared.bindings:  # before the answer: the session's next request may land
                                await self.shared.store_bindings()  # on another replica
                            if ex.own and ex.failure is not None:
                                self._answer(conn, out, ex.failure)
                            else:
                                if self.auth.held:  # the keys the gateway holds never go back, echoed or not
                                    ex.out_headers = self.auth.scrub(ex.out_headers)
                                    if ex.status >= 400:
                                        ex.body = self.auth.scrub(ex.body)
                                await deliver(ex, conn, out, self.config)
                            return
                        except BaseException:
                            ex.drop()
                            raise
                        ex.drop()  # retried: this answer never reaches the client
                    finally:
                        self.slots.release()
            finally:
                flow.close()  # abandoned (client gone, queue full): the flow frees a half-open probe it may hold
        except asyncio.CancelledError:
            out.status, out.error = 499, "client_closed"
            raise
        finally:
            self.in_flight -= 1
            if served:
                self.metrics.observe_upstream_request(served, out.status)
            self._finish(req, path, out, attempts, ticket, served)
            if self.console is not None:  # the one place a call ends: the console's ring gets it
                self.console.add(self._record(req, path, out, tried, served, client, stream))
            if otel is not None:
                otel.finish(out.status, out.error, out.usage, time.monotonic() - out.started, out.ttfb, attempts)

    def _record(
        self, req: Request, path: str, out: Trace, tried: list[Attempt], served: str, client: str, stream: bool
    ) -> FinishedCall:
        duration = time.monotonic() - out.started
        usage = out.usage
        model = usage.model if usage is not None and usage.model else request_model(req.body)
        return FinishedCall(
            route_of(path), model, stream, time.time() - duration, duration, tuple(tried), served, out.status,
            out.error, out.ttfb, usage, out.request_id, client,
        )  # fmt: skip

    def _otel(self, req: Request, path: str) -> CallTrace | None:
        if self.telemetry is None:
            return None
        parent, state = req.header(b"traceparent"), req.header(b"tracestate")
        return self.telemetry.call(
            route_of(path),
            request_model(req.body),
            stream=wants_stream(req.body),
            traceparent=parent.decode("latin-1") if parent else None,
            tracestate=state.decode("latin-1") if state else None,
            body=req.body,
        )

    def _finish(
        self, req: Request, path: str, out: Trace, attempts: int, ticket: Ticket | None = None, served: str = ""
    ) -> None:
        duration = time.monotonic() - out.started
        route = route_of(path)
        usage = out.usage
        self.metrics.observe_request(route, out.status, out.error, duration, out.ttfb)
        if ticket is not None:
            used = counted_tokens(usage)
            self.clients.settle(ticket, used)
            self.metrics.client_used(ticket.client, used)
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            self.metrics.add_usage(usage, served)
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

    def _answer(
        self, conn: Connection, out: Trace, failure: Failure, detail: str | None = None, extra: bytes = b""
    ) -> None:
        out.request_id = out.request_id or f"{self._id_prefix}{next(self._ids)}"
        answer = error_answer(failure, detail=detail, request_id=out.request_id)
        conn.respond(answer.status, answer.headers + extra, self.auth.scrub(answer.body))
        out.status, out.error = answer.status, str(failure.kind)
        out.ttfb = time.monotonic() - out.started


def _telemetry(config: GatewayConfig) -> GatewayTelemetry | None:
    """OTLP export as ``config.otlp`` or the ``OTEL_*`` variables ask; None when it is off."""
    settings = OtlpSettings.from_env(config.otlp)
    if settings is None:
        return None
    from claudewire.telemetry.genai import GatewayTelemetry  # the OpenTelemetry API: only when export is on

    first = config.upstreams[0]
    return GatewayTelemetry(start(settings, service="claudewire-gateway"), first.url, kind=first.kind)
