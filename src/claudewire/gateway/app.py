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
from claudewire.calls import Call, CallObservers, CallSink
from claudewire.gateway.accesslog import AccessLog
from claudewire.gateway.config import GatewayConfig
from claudewire.gateway.console_feed import ConsoleSink, facts_reader
from claudewire.gateway.downstream.baseurl import answer_misdirected
from claudewire.gateway.downstream.clients import ClientGate, counted_tokens
from claudewire.gateway.downstream.console import CallRing, Console
from claudewire.gateway.downstream.errors import error_answer
from claudewire.gateway.downstream.http import Connection, Request
from claudewire.gateway.downstream.limits import UNAUTHENTICATED_BODY, ServerState
from claudewire.gateway.downstream.slots import Slots
from claudewire.gateway.exchange import Translation, deliver, exchange, wants_stream
from claudewire.gateway.headers import ClientAuth, forward_headers
from claudewire.gateway.openai.answers import own_error
from claudewire.gateway.openai.ingress import OpenAIIngress, ingress_route
from claudewire.gateway.parties import failed_upstreams
from claudewire.gateway.protocol import hello, protocol_answer
from claudewire.gateway.routing import GatewayTarget, Routing
from claudewire.gateway.upstream.pool import Headers, Upstream
from claudewire.metrics import CONTENT_TYPE, Metrics
from claudewire.policy import MultiHooks, OneTarget, Outcome, PolicyEngine, Reject, Wait, call_flow
from claudewire.policy.pool import PoolChooser
from claudewire.state import StateBackend, Ticket, open_state
from claudewire.state.sync import SharedPolicy
from claudewire.telemetry import OtlpSettings, start

if TYPE_CHECKING:
    from claudewire.gateway.downstream.signin.service import SignIn
    from claudewire.gateway.workers import WorkerMetrics
    from claudewire.telemetry.genai import GatewayTelemetry

__all__ = ["Gateway"]

_JSON = b"content-type: application/json\r\n"
_MARGIN = 1.0  # seconds (at most a tenth of it) taken off a caller's own timeout: our answer must reach it first
_USEFUL = 1.0  # seconds (at most a quarter of the deadline) an attempt needs to be of use
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
                config.state,
                namespace=config.state_prefix,
                timeout=config.state_timeout,
                ca_file=config.state_ca_file,
                # how many workers share the limits here: one that finds Redis slow grants only its lease
                processes=config.workers,
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
        self.telemetry = telemetry if telemetry is not None else _telemetry(config)  # None: OTLP export off
        self.access_log = access_log
        sinks: list[CallSink] = [access_log] if access_log is not None else []
        # the console's ring hears every finished call like the access log (0 console_calls: no console, no cost)
        self.ring = CallRing(config.console_calls) if config.console_calls else None
        if self.ring is not None:
            sinks.append(ConsoleSink(self.ring))
        self.observers = CallObservers(metrics=self.metrics, telemetry=self.telemetry, sinks=sinks)
        self.metrics.in_flight.set_function(lambda: self.observers.in_flight)  # read at scrape time, no lock
        self.routing = Routing(
            config, self.engine, self.metrics, upstream=upstream, state=self.shared, hooks=self.observers.pool_hooks()
        )
        # a session's binding is read from the store only where there is a choice to agree on
        self.shared_sessions = self.state.shared and len(self.routing.targets) > 1
        self.slots = Slots(config.max_concurrency, config.max_queue)
        self.signin = _signin(config, self.state)  # None without [signin]: routes, and the signed-in token verifier
        verifier, groups = (self.signin.member, self.signin.groups) if self.signin is not None else (None, {})
        self.auth = ClientAuth(
            config.tokens, ((c.name, c.token_sha256) for c in config.clients), self.routing.scrubber, verifier
        )
        self.clients = ClientGate(config.clients, self.state, on_local=self.metrics.state_local.inc, groups=groups)
        self.metrics.state_up.set_function(lambda: 1.0 if self.state.up else 0.0)
        self.http = ServerState(config.http_limits(), on_refused=self.metrics.on_refused)
        self.metrics.client_connections.set_function(lambda: self.http.open)
        self.metrics_address: tuple[str, int] | None = None  # set by the server when /metrics has its own port
        self.workers: WorkerMetrics | None = None  # set by the server under --workers N: /metrics adds them up
        self.console: Console | None = None  # /console: a ring of the last calls and the page that shows them
        if self.ring is not None:
            facts = facts_reader(self.routing, self.engine, self.metrics)
            admits = self.auth.admits if self.auth.tokens else None  # like /metrics: a gateway token in tokens mode
            self.console = Console(self.ring, facts=facts, clients=config.clients, admits=admits)
        self._ids = itertools.count(1)
        self._worker = b"x-claudewire-worker: %d\r\n" % os.getpid()  # which --workers process answered
        self._id_prefix = f"gw_{os.getpid():x}_{int(time.time()):x}_"
        self.openai = OpenAIIngress(self)  # Chat Completions, Responses, Cursor, Azure, and the model list

    @property
    def in_flight(self) -> int:
        """Calls being answered now (the server waits for them at shutdown)."""
        return self.observers.in_flight

    def connection(self) -> Connection:
        """A protocol instance for one client connection."""
        # tokens mode: a head without a valid token reserves no body budget (limits.UNAUTHENTICATED_BODY)
        return Connection(self.handle, self.http, self._caller_admitted if self.auth.tokens else None)

    def _caller_admitted(self, req: Request) -> bool:
        # a configured token or a signed-in user's: either may send a body to the API routes
        if self.signin is not None and req.path in self.signin.routes and not self.auth.admits(req, signed_in=True):
            # sign-in's own forms come before any token (device code, token, verification page): admitted when they
            # announce a small body, so no caller without a token can hold more than UNAUTHENTICATED_BODY
            length = req.header(b"content-length")
            return length is not None and length.isdigit() and int(length) <= UNAUTHENTICATED_BODY
        return self.auth.admits(req, signed_in=True)

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
        if self.signin is not None and (endpoint := self.signin.routes.get(path)) is not None:
            await endpoint(req, conn)  # sign-in's endpoints, /managed/settings, Claude Code's OTLP relay
            return
        if answer_misdirected(req, conn):  # /messages, /v1/v1/...: a wrong base URL's 404
            return
        if self.openai.retrieves_locally(req):  # GET /v1/models/{id} where no upstream can answer it
            self.openai.retrieve(req, conn)
            return
        route = None if path == b"/v1/messages" else ingress_route(req.method, path)
        if route is not None or path.startswith(b"/v1/"):
            try:
                if route is None:
                    await self._proxy(req, conn, path.decode("latin-1"))
                else:
                    await self.openai.handle(req, conn, route)
            except Exception as exc:  # a bug of ours: log it, and still answer in the API's shape if we can
                _log.exception("internal error answering %s %s", req.method.decode("latin-1"), path[:200])
                if conn.committed:
                    raise
                failure = Failure.of(FailureKind.UNKNOWN, message=f"claudewire gateway internal error: {exc!r}")
                answer = error_answer(failure)
                if route is not None and self.openai.dialect(req, route) != "anthropic":
                    conn.respond(*own_error(answer, both=route.lists))
                else:
                    conn.respond(500, answer.headers, answer.body)
        elif path == b"/api/hello":  # Claude Code's preconnect: answered here at once, never forwarded
            hello(req, conn)
        elif path == b"/protocol" and req.method == b"GET":
            protocol_answer(conn, self.config)
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
            await self.metrics_answer(conn)
        elif (path == b"/console" or path.startswith(b"/console/")) and self.console is not None:
            await self.console.handle(req, conn)
        else:
            served = "/v1/*, /cursor/*, /openai/deployments/*, /healthz, /readyz, /metrics"
            served += ", /console" if self.console is not None else ""
            failure = Failure.of(FailureKind.NOT_FOUND, message=f"the gateway serves {served}")
            answer = error_answer(failure)
            conn.respond(answer.status, answer.headers, answer.body)

    async def metrics_answer(self, conn: Connection) -> None:
        """Answer with the Prometheus exposition (under --workers N: every worker's, added up)."""
        body = self.metrics.render() if self.workers is None else await self.workers.render()
        conn.respond(200, b"content-type: " + CONTENT_TYPE.encode() + b"\r\n" + self._worker, body)

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
    def deadline(self, req: Request, stream: bool = False) -> tuple[float | None, float]:
        """Seconds this call may take in all, and the time an attempt needs to be of use (a retry that would leave
        less is not made): the policy's deadline, or the caller's own timeout (``x-stainless-timeout``, or
        ``x-stainless-read-timeout``) less a margin if shorter, so the answer reaches the caller before it gives
        up; for a stream, at most `stream_deadline` to its first content.
        """
        deadline = self.config.policy.deadline
        # the SDKs send their timeout; Python's 2.x sends the read timeout alone when it is set on the client (the
        # time it waits for a byte, so for a JSON answer or a stream's head a total): the shorter binds
        for name in (b"x-stainless-timeout", b"x-stainless-read-timeout"):
            raw = req.header(name)
            if raw is None:
                continue
            try:
                caller = float(raw)
            except ValueError:
                continue
            if caller > 0 and math.isfinite(caller):
                caller -= min(_MARGIN, caller * 0.1)  # the answer must travel back before the caller's timer fires
                if deadline is None or caller < deadline:
                    deadline = caller
        if stream and (deadline is None or self.config.stream_deadline < deadline):
            deadline = self.config.stream_deadline
        return deadline, (0.0 if deadline is None else min(_USEFUL, deadline / 4))

    def start_call(self, req: Request, path: str, *, dialect: str, stream: bool) -> Call:
        """Begin the record of a call a translating ingress drives (its model is set once translated)."""
        parent, state = req.header(b"traceparent"), req.header(b"tracestate")
        return self.observers.start(
            req.method.decode("latin-1"),
            path,
            dialect=dialect,
            stream=stream,
            traceparent=parent.decode("latin-1") if parent else None,
            tracestate=state.decode("latin-1") if state else None,
        )

    def _start(self, req: Request, path: str, stream: bool) -> Call:
        if self.observers.telemetry is None:  # the span's parent is read only when there is a span
            # the model is read only for a sink that shows it (the access log, the console's ring)
            model = request_model(req.body) if self.observers.sinks else None
            method = "POST" if req.method == b"POST" else req.method.decode("latin-1")
            return self.observers.start(method, path, model=model, stream=stream)
        parent, state = req.header(b"traceparent"), req.header(b"tracestate")
        return self.observers.start(
            req.method.decode("latin-1"),
            path,
            model=request_model(req.body),
            stream=stream,
            traceparent=parent.decode("latin-1") if parent else None,
            tracestate=state.decode("latin-1") if state else None,
            body=req.body,
        )

    async def proxy(self, req: Request, conn: Connection, call: Call, translation: Translation) -> None:
        """Drive a translated call: `req` is the Messages request it stands for (the canonical target, model and
        body that auth, client limits and routing judge), `call` its record, `translation` its answer's rewrite."""
        await self._proxy(req, conn, call.record.path, call=call, translation=translation)

    async def _proxy(
        self,
        req: Request,
        conn: Connection,
        path: str,
        *,
        call: Call | None = None,
        translation: Translation | None = None,
    ) -> None:
        stream = wants_stream(req.body)
        if call is None:
            call = self._start(req, path, stream)
        record = call.record
        ticket: Ticket | None = None  # a named client's reservation, settled once the call is over
        try:
            if req.too_large:
                limit = self.config.body_limit
                self._answer(conn, call, Failure.of(FailureKind.REQUEST_TOO_LARGE, message=f"body over {limit} bytes"))
                return
            forwarded = forward_headers(req, self.auth)
            if forwarded is None:
                msg = "missing or wrong gateway token (send it as x-api-key or Authorization: Bearer)"
                self._answer(conn, call, Failure.of(FailureKind.AUTH, message=msg))
                return
            headers, client = forwarded
            record.client = client
            chooser = self.routing.chooser(req)
            if isinstance(chooser, Failure):  # a model no upstream serves: the caller's error, sent nowhere
                self._answer(conn, call, chooser, extra=b"x-should-retry: false\r\n")
                return
            session = None if isinstance(chooser, OneTarget) else chooser.session  # OneTarget: no session id sent
            fetch = None
            if session and self.shared_sessions:  # a task: its read joins the admission's round trip
                fetch = asyncio.get_running_loop().create_task(self.shared.fetch_session(session))
            if client and self.clients.clients:  # a named client: its models and limits, before the flow starts
                verdict = await self.clients.check(client, record.route, req.method, req.body)
                record.admission = verdict.outcome
                if verdict.refusal is not None:
                    self._answer(conn, call, verdict.refusal.failure, extra=verdict.refusal.headers)
                    return
                ticket = verdict.ticket
            if fetch is not None:
                await fetch
            await self._drive(
                req, conn, call, chooser, headers, stream, drain=ticket is not None, translation=translation
            )
        except asyncio.CancelledError:
            record.status, record.error = 499, "client_closed"
            raise
        except Exception:  # a bug of ours: `handle` logs it and answers 500 when it still can
            record.status, record.error = 500, str(FailureKind.UNKNOWN)
            raise
        finally:
            if ticket is not None:
                used = counted_tokens(record.usage)
                if record.status == 499 and not record.usage_final:
                    used = max(used, ticket.reserved)  # a reset never lowers what is counted: the worst case
                self.clients.settle(ticket, used)
                record.charged = used
            call.end()

    async def _drive(
        self,
        req: Request,
        conn: Connection,
        call: Call,
        chooser: PoolChooser[GatewayTarget] | OneTarget[GatewayTarget],
        headers: Headers,
        stream: bool,
        *,
        drain: bool,
        translation: Translation | None = None,
    ) -> None:
        # drain: a named client's tokens are counted, so a stream its client abandons is read on for its usage
        deadline, reserve = self.deadline(req, stream)
        flow = call_flow(self.engine, chooser, deadline=deadline, reserve=reserve, logger=_log, listener=call)
        try:
            step = next(flow)
            while True:
                if isinstance(step, Wait):
                    await self.clock.asleep(step.delay)
                    step = flow.send(None)
                    continue
                if isinstance(step, Reject):
                    self._answer(conn, call, step.failure)
                    return
                if not await self.slots.acquire():
                    busy = f"gateway queue full ({self.slots.limit} in flight upstream, {self.slots.queue} waiting)"
                    self._answer(conn, call, Failure.of(FailureKind.OVERLOADED, retry_after=1.0, message=busy))
                    return
                target = step.target
                try:  # the slot is held until the accepted answer is delivered
                    ex = await exchange(target.upstream, req, headers, self.config, stream=stream, within=step.timeout)
                    call.record.request_id = ex.headers.get("request-id", "")  # this attempt's, never an earlier one's
                    try:
                        step = flow.send(Outcome(ex.failure, ex.headers or None, ex.status))
                    except StopIteration:  # done, or given up: this attempt's answer is the call's
                        if self.shared.bindings:  # before the answer: the session's next request may land
                            await self.shared.store_bindings()  # on another replica
                        if ex.own and ex.failure is not None:
                            self._answer(conn, call, ex.failure, upstream=target.name)
                        else:
                            if self.auth.held:  # the keys the gateway holds never go back, echoed or not
                                ex.out_headers = self.auth.scrub(ex.out_headers)
                                if ex.status >= 400:
                                    ex.body = self.auth.scrub(ex.body)
                            await deliver(ex, conn, call, self.config, drain=drain, translation=translation)
                        return
                    except BaseException:
                        ex.drop()
                        raise
                    ex.drop()  # retried: this answer never reaches the client
                finally:
                    self.slots.release()
        finally:
            flow.close()  # abandoned (client gone, queue full): the flow frees a half-open probe it may hold

    def answer_failure(self, conn: Connection, call: Call, failure: Failure, extra: bytes = b"") -> None:
        """Answer `call` with the gateway's own error for `failure`, in the envelope of the call's dialect."""
        self._answer(conn, call, failure, extra=extra)

    def _answer(
        self,
        conn: Connection,
        call: Call,
        failure: Failure,
        detail: str | None = None,
        extra: bytes = b"",
        upstream: str = "",
    ) -> None:
        record = call.record
        record.request_id = f"{self._id_prefix}{next(self._ids)}"  # the gateway's answer: its own id, no attempt's
        failed = failed_upstreams(self.config, self.routing, failure, upstream)  # named when the error is theirs
        answer = error_answer(failure, detail=detail, request_id=record.request_id, upstreams=failed)
        if record.dialect == "anthropic":
            conn.respond(answer.status, answer.headers + extra, self.auth.scrub(answer.body))
        else:  # an OpenAI-format caller: OpenAI's envelope and header names
            status, headers, body = own_error(answer, extra, both=record.route == "models")
            conn.respond(status, headers, self.auth.scrub(body))
        call.answer(answer.status, str(failure.kind))


def _signin(config: GatewayConfig, state: StateBackend) -> SignIn | None:
    """Gateway sign-in when ``[signin]`` is configured (the ``signin`` extra: authlib, joserfc)."""
    if config.signin is None:
        return None
    from claudewire.gateway.downstream.signin.service import SignIn

    return SignIn(config.signin, state, public_url=config.signin.public_url or config.base_url, otlp=config.otlp)


def _telemetry(config: GatewayConfig) -> GatewayTelemetry | None:
    """OTLP export as ``config.otlp`` or the ``OTEL_*`` variables ask; None when it is off."""
    settings = OtlpSettings.from_env(config.otlp)
    if settings is None:
        return None
    from claudewire.telemetry.genai import GatewayTelemetry  # the OpenTelemetry API: only when export is on

    first = config.upstreams[0]
    return GatewayTelemetry(start(settings, service="claudewire-gateway"), first.url, kind=first.kind)
