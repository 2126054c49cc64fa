"""How a gateway is set up: address, upstream, limits, timeouts, client tokens and the policy.

`GatewayConfig.from_toml` reads a ``claudewire.toml`` (stdlib tomllib): the flags' fields at the top level or in a
``[proxy]`` table, the policy's fields in ``[policy]`` (and ``[policy.retry_budget]``)::

    [proxy]
    host = "127.0.0.1"
    port = 8787
    upstream = "https://api.anthropic.com"
    tokens_file = "/etc/claudewire/tokens"   # one token a line; or tokens = ["..."]
    max_concurrency = 256
    [policy]
    max_retries = 4
    breaker_cooldown = 30.0
    [state]                                  # shared by every worker and replica (default: in memory)
    url = "redis://127.0.0.1:6379/0"
    prefix = "claudewire"                    # one per deployment sharing that Redis
    timeout = 0.05                           # slower than that: answered from local state
    [[clients]]                              # see claudewire.gateway.downstream.clients
    name = "ci-bot"
    token_sha256 = "9f86d0…"
    requests_per_minute = 30

Several upstreams (failover by priority, load shared by weight, several keys each) are ``[[upstreams]]`` tables; see
`claudewire.gateway.upstream.specs` for their fields. Without them, `upstream` (and in token mode `upstream_key`) make
the one upstream.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claudewire._net import is_loopback
from claudewire.gateway.downstream.clients import ClientSpec, check_unique, clients_from_tables
from claudewire.gateway.downstream.limits import HttpLimits
from claudewire.gateway.downstream.signin.config import SignInConfig, SignInError
from claudewire.gateway.downstream.tls import TlsFilesError, server_context
from claudewire.gateway.openai.settings import OpenAISettings
from claudewire.gateway.upstream.answers import DEFAULT_BODY_LIMIT
from claudewire.gateway.upstream.specs import (
    UpstreamConfigError,
    UpstreamSpec,
    check_models_served,
    specs_from_urls,
    upstreams_from_list,
)
from claudewire.policy import Policy, RetryBudget
from claudewire.telemetry import OtlpSettings, OtlpUnavailableError, check_available

__all__ = ["ConfigError", "GatewayConfig"]

_STATE_SCHEMES = ("redis://", "rediss://", "unix://")
_HTTP = HttpLimits()  # the HTTP layer's limits and their defaults, which are this config's defaults too
_HTTP_FIELD = {"read_timeout": "client_read_timeout"}  # HttpLimits field → GatewayConfig field, where they differ


class ConfigError(ValueError):
    """A gateway configuration that cannot work; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything `claudewire proxy` needs.

    - `tokens`: client tokens; when any is set the gateway holds the upstream key (`upstream_key`, default env
      ``ANTHROPIC_API_KEY``) and clients must present a token as ``x-api-key`` or ``Authorization: Bearer``.
    - `body_limit`: largest request body in bytes (over it: 413 ``request_too_large``).
    - `max_concurrency` upstream requests at once, `max_queue` more waiting; beyond that: 529 ``overloaded_error``.
    - `connect_timeout`, `read_timeout` (to the response head of a non-streamed request, and between chunks of a
      non-streamed body), `first_byte_timeout` (a ``"stream": true`` request whose response head or first SSE
      event has not come that long after sending is a retryable ``no_response`` failure, before anything reached
      the client; a healthy stream starts within seconds, 30 s leaves room for a long prompt's prefill, and a
      stall before the head no longer waits out `read_timeout`; see docs/resilience.md), `idle_timeout` (a stream
      with no bytes, pings included, that long ends with an SSE ``error`` event), `keepalive_timeout` (an idle
      client connection is closed after that long), `ping_interval` (a translated stream without pings of its own,
      Bedrock's, gets a ``ping`` event after that many seconds of silence, between two events, so clients and
      proxies that cut a silent stream keep it; 0: never).
    - The policy's `deadline`, and a caller's own ``x-stainless-timeout`` (the official SDKs send it) less a margin
      (a tenth of it, at most 1 s) so the answer reaches the caller before it gives up, bound each call in all:
      every attempt and every wait; a retry that would leave no useful time is not made (the last failure is the
      answer). A stream's first content must come within `stream_deadline` s in all, retries and waits included.
    - `drain_timeout` / `drain_bytes`: a stream whose client went away is still read, up to that long and that
      many bytes, for the usage a named client's limits count; a stream not read to its end counts the whole
      reservation (its ``max_tokens``), so resetting a connection never lowers what is counted.
    - `ca_file`: a PEM bundle to trust for an https upstream instead of the system's (SSL_CERT_FILE works too).
    - `hold_first_delta`: hold a stream's ``message_start``/``ping`` until its first delta so an ``overloaded_error``
      before it is retried invisibly.
    - `upstreams`: every upstream (``[[upstreams]]``); when not given, the one `upstream` (with `upstream_key` in
      token mode). `upstream` is then the first upstream's URL.
    - `affinity_headers`: request headers naming a session; a session sticks to the upstream+key that served it
      while that stays healthy (its prompt cache stays warm), for `affinity_ttl` seconds after its last request,
      at most `affinity_sessions` sessions remembered.
    - `key_cooldown`: seconds a gateway-held key stays out after the upstream refused it (401/403).
    - `clients`: named client tokens with limits and allowed models (``[[clients]]``, `ClientSpec`); they are
      tokens too, so they switch tokens mode on like `tokens`.
    - `state`: where limits and shared policy state live: None (this process) or ``redis://HOST:PORT/DB``
      (``rediss://`` for TLS, verified against the system's CAs, SSL_CERT_FILE, or `state_ca_file`, a PEM bundle);
      `state_prefix` namespaces the keys of one deployment; a state call slower than `state_timeout` seconds is
      answered from this process's own state (fail open).
    - Bounds on what clients can make the gateway hold: `head_limit` bytes and `max_headers` fields of a request
      head (431; the same byte cap applies to an upstream's response head: 502), `body_budget` bytes of request
      bodies buffered across all requests (beyond it a request waits up to `budget_wait` s, then 529),
      `max_connections` open client connections (529; the soft open-file limit is raised to the hard one at start).
    - Slow clients: `client_read_timeout` s without a byte in the middle of a request, or a head not whole after
      `head_timeout` s, a body not whole after `body_timeout` s: 408 and the connection closed; a client that reads
      nothing of its answer for `write_timeout` s is cut and its upstream request released.
    - `upstream_error_body_limit`: bytes of an upstream body read whole (an error answer, a cloud kind's JSON
      answer); past it the connection is dropped and the client gets a 502 naming the upstream.
    - `metrics_port`: serve ``/metrics`` on its own listener at `metrics_host` (default 127.0.0.1) instead of the
      main port; without it, ``/metrics`` on the main port needs a gateway token whenever tokens are set.
    - `tls_cert`, `tls_key`: serve HTTPS (TLS 1.2+) with this PEM certificate chain and key; SIGHUP re-reads them
      (new connections get the new certificate). Binding a non-loopback address still needs client tokens.
    - `signin`: gateway sign-in (``[signin]`` and ``[[groups]]``, `SignInConfig`): users sign in with the
      organisation's IdP and become clients with their group's models and limits; it switches tokens mode on.
    - `openai`: the OpenAI-compatible ingress's ``[openai]`` section (`OpenAISettings`): advertised model names,
      ``max_tokens`` floors per route, the default ``max_tokens``.
    - `console_calls`: how many finished calls ``/console`` keeps to show (its ring; 0 turns the console off).
    - `otlp`: an OTLP endpoint (``http://collector:4318``) to export GenAI metrics and traces to (the ``otel``
      extra); None leaves it to the standard ``OTEL_EXPORTER_OTLP_*`` variables (off when none is set).
    """

    host: str = "127.0.0.1"
    port: int = 8787
    upstream: str = "https://api.anthropic.com"
    workers: int = 1
    allow_open: bool = False
    tokens: tuple[str, ...] = ()
    upstream_key: str | None = None
    ca_file: str | None = None
    body_limit: int = _HTTP.body_limit
    max_concurrency: int = 256
    max_queue: int = 1024
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    first_byte_timeout: float = 30.0
    stream_deadline: float = 90.0
    idle_timeout: float = 60.0
    ping_interval: float = 10.0
    drain_timeout: float = 60.0
    drain_bytes: int = 4 * 1024 * 1024
    keepalive_timeout: float = _HTTP.keepalive_timeout
    hold_first_delta: bool = True
    access_log: str | None = "-"
    upstreams: tuple[UpstreamSpec, ...] = ()
    affinity_headers: tuple[str, ...] = ("x-claude-code-session-id",)
    affinity_ttl: float = 3600.0
    affinity_sessions: int = 10000
    key_cooldown: float = 300.0
    clients: tuple[ClientSpec, ...] = ()
    state: str | None = None
    state_prefix: str = "claudewire"
    state_timeout: float = 0.05
    state_ca_file: str | None = None
    otlp: str | None = None
    policy: Policy = field(default_factory=Policy)
    head_limit: int = _HTTP.head_limit
    max_headers: int = _HTTP.max_headers
    body_budget: int | None = None  # default: HttpLimits' (256 MiB), or body_limit if that is larger
    budget_wait: float = _HTTP.budget_wait
    max_connections: int = _HTTP.max_connections
    client_read_timeout: float = _HTTP.read_timeout
    head_timeout: float = _HTTP.head_timeout
    body_timeout: float = _HTTP.body_timeout
    write_timeout: float = _HTTP.write_timeout
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    upstream_error_body_limit: int = DEFAULT_BODY_LIMIT
    tls_cert: str | None = None
    tls_key: str | None = None
    signin: SignInConfig | None = None
    openai: OpenAISettings = field(default_factory=OpenAISettings)
    console_calls: int = 500

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(t.strip() for t in self.tokens if t.strip()))
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is outside 0..65535")
        if self.workers < 1:
            raise ConfigError("workers must be >= 1")
        if not self.upstream.startswith(("http://", "https://")):
            raise ConfigError(f"upstream must start with http:// or https://, got {self.upstream!r}")
        if self.body_limit < 1 or self.max_concurrency < 1 or self.max_queue < 0:
            raise ConfigError("body_limit and max_concurrency must be >= 1, max_queue >= 0")
        timeouts = (self.connect_timeout, self.read_timeout, self.first_byte_timeout, self.idle_timeout)
        if min(*timeouts, self.keepalive_timeout, self.stream_deadline, self.drain_timeout) <= 0:
            raise ConfigError("timeouts must be > 0 seconds")
        if not 0 <= self.ping_interval <= 3600:
            raise ConfigError("ping_interval must be 0 (no pings) to 3600 seconds")
        if self.drain_bytes < 0:
            raise ConfigError("drain_bytes must be >= 0 (0: a reset stream counts its whole reservation)")
        try:
            check_unique(self.clients)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.state is not None and self.state != "memory" and not self.state.startswith(_STATE_SCHEMES):
            scheme = self.state.split("://", 1)[0] if "://" in self.state else self.state[:20]
            raise ConfigError(f"state must be memory, redis://HOST:PORT/DB or rediss://HOST:PORT/DB, not {scheme!r}")
        if self.state is not None and re.search(r"[?&]ssl_", self.state):  # ssl_cert_reqs=none would switch it off
            raise ConfigError("TLS settings do not go in the state URL: give the Redis CA as [state] ca_file")
        if self.state_ca_file is not None:
            if not (self.state or "").startswith("rediss://"):
                raise ConfigError("[state] ca_file is for a rediss:// (TLS) state URL")
            if not os.path.isfile(self.state_ca_file):
                raise ConfigError(f"[state] ca_file {self.state_ca_file!r} is not a readable file")
        try:  # OTLP asked for (otlp / OTEL_*) but unusable: say so before any worker starts
            otlp = OtlpSettings.from_env(self.otlp)
            if otlp is not None:
                check_available(otlp)
        except OtlpUnavailableError as exc:
            raise ConfigError(str(exc)) from None
        if not re.match(r"^[A-Za-z0-9_.\-]{1,64}$", self.state_prefix):
            raise ConfigError("state prefix must be 1-64 letters, digits, '_', '.' or '-'")
        if not 0 < self.state_timeout <= 5:
            raise ConfigError("state timeout must be > 0 and <= 5 seconds")
        if self.upstream_error_body_limit < 1024:
            raise ConfigError("upstream_error_body_limit must be >= 1024 bytes")
        if self.head_limit < 1024 or self.max_headers < 8 or self.max_connections < 1:
            raise ConfigError("head_limit must be >= 1024, max_headers >= 8, max_connections >= 1")
        if self.body_budget is None:
            object.__setattr__(self, "body_budget", max(_HTTP.body_budget, self.body_limit))
        elif self.body_budget < self.body_limit:
            raise ConfigError(
                f"body_budget ({self.body_budget}) must be at least body_limit ({self.body_limit}): "
                "a body the limit allows must fit in the budget"
            )
        timeouts = (self.client_read_timeout, self.head_timeout, self.body_timeout, self.write_timeout)
        if min(timeouts) <= 0 or self.budget_wait < 0:
            raise ConfigError("client timeouts must be > 0 seconds and budget_wait >= 0")
        if not 0 <= self.console_calls <= 100_000:
            raise ConfigError(f"console_calls must be 0 (no console) to 100000, got {self.console_calls}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics_port {self.metrics_port} is outside 0..65535")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError(
                "set both tls_cert and tls_key (the PEM certificate chain and its private key), or neither"
            )
        if self.tls_cert is not None and self.tls_key is not None:
            try:
                server_context(self.tls_cert, self.tls_key)  # fail at start, not at the first handshake
            except TlsFilesError as exc:
                raise ConfigError(str(exc)) from None
        if self.signin is not None:
            clash = {g.name for g in self.signin.groups} & {c.name for c in self.clients}
            if clash:
                raise ConfigError(f"a group and a client share a name (they label the same metric): {sorted(clash)}")
            if self.workers > 1 and (self.state or "memory") == "memory":
                raise ConfigError(
                    "sign-in with several workers needs shared state: a sign-in begun on one worker is finished on "
                    "another; set [state] url = redis://... (or run one worker)"
                )
        if not is_loopback(self.host) and not self.token_mode and not self.allow_open:
            raise ConfigError(
                f"binding {self.host} exposes your upstream key to the network: set client tokens "
                "(tokens / tokens_file) or pass --allow-open if this is really what you want"
            )
        if not self.upstreams:
            if self.token_mode and not self.upstream_key:
                raise ConfigError(
                    "client tokens are set but there is no upstream key: set ANTHROPIC_API_KEY or upstream_key"
                )
            keys = (self.upstream_key,) if self.token_mode and self.upstream_key else ()
            object.__setattr__(self, "upstreams", specs_from_urls([self.upstream], keys))
        else:
            object.__setattr__(self, "upstreams", tuple(self.upstreams))
            object.__setattr__(self, "upstream", min(self.upstreams, key=lambda s: s.priority).url)
        names = [spec.name for spec in self.upstreams]
        if len(set(names)) != len(names):
            raise ConfigError(f"upstreams: duplicate names in {', '.join(names)}")
        for i, spec in enumerate(self.upstreams):
            if self.token_mode and spec.forwards_credentials:
                raise ConfigError(
                    f"upstreams[{i}] ({spec.name}).keys: empty means the client's own credentials are forwarded, "
                    "but with client tokens set clients send a gateway token: give this upstream its keys"
                )
        listed = {f"clients[{i}] ({c.name}).models": sorted(c.models) for i, c in enumerate(self.clients) if c.models}
        for i, group in enumerate(self.signin.groups if self.signin is not None else ()):
            if group.models:
                listed[f"groups[{i}] ({group.name}).models"] = sorted(group.models)
        listed.update({f"[openai] models.{alias}": [model] for alias, model in self.openai.models.items()})
        try:
            check_models_served(self.upstreams, listed)
        except UpstreamConfigError as exc:
            raise ConfigError(str(exc)) from None
        object.__setattr__(self, "affinity_headers", tuple(h.strip().lower() for h in self.affinity_headers))
        if not all(self.affinity_headers) or self.affinity_ttl <= 0 or self.affinity_sessions < 0:
            raise ConfigError("affinity needs non-empty header names, affinity_ttl > 0 and affinity_sessions >= 0")
        if self.key_cooldown <= 0:
            raise ConfigError("key_cooldown must be > 0 seconds")

    @property
    def token_mode(self) -> bool:
        """Whether clients present gateway tokens (plain `tokens` or named `clients`) and the gateway holds keys."""
        return bool(self.tokens or self.clients or self.signin)

    @property
    def base_url(self) -> str:
        """The URL clients put in ANTHROPIC_BASE_URL."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"

    def http_limits(self) -> HttpLimits:
        """The client-side limits the HTTP layer enforces: each `HttpLimits` field from this config's own."""
        return HttpLimits(**{f.name: getattr(self, _HTTP_FIELD.get(f.name, f.name)) for f in dataclasses.fields(_HTTP)})

    def replace(self, **changes: Any) -> GatewayConfig:
        """A copy with `changes` applied (and validated); upstreams made from `upstream` follow a new `upstream`."""
        if "upstreams" not in changes and self._one_upstream():
            changes["upstreams"] = ()
        return dataclasses.replace(self, **changes)

    def _one_upstream(self) -> bool:
        """Whether `upstreams` is the one made from `upstream` (not configured by [[upstreams]] or --upstream)."""
        keys = (self.upstream_key,) if self.token_mode and self.upstream_key else ()
        return self.upstreams == specs_from_urls([self.upstream], keys)

    @classmethod
    def from_toml(cls, path: str | Path, **overrides: Any) -> GatewayConfig:
        """Read `path`; `overrides` (the command line's flags) win over the file."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
        return cls.from_mapping(data, **overrides)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], **overrides: Any) -> GatewayConfig:
        """Build from parsed TOML (see the module docstring for the layout)."""
        data = dict(data)
        policy_data = data.pop("policy", {})
        state = data.pop("state", None)
        clients = data.pop("clients", [])
        signin, groups = data.pop("signin", None), data.pop("groups", None)
        listed = data.pop("upstreams", None)
        openai = data.pop("openai", None)
        proxy = dict(data.pop("proxy", {}))
        proxy.update({k: v for k, v in data.items() if not isinstance(v, dict)})
        names = {f.name for f in dataclasses.fields(cls)} - {
            "policy",
            "upstreams",
            "clients",
            "state_prefix",
            "state_timeout",
            "signin",
            "openai",
        }
        unknown = set(proxy) - names - {"tokens_file"}
        if unknown:
            raise ConfigError(
                f"unknown gateway setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}"
            )
        tokens = list(proxy.pop("tokens", []))
        tokens_file = proxy.pop("tokens_file", None)
        if tokens_file:
            tokens += read_tokens(tokens_file)
        if tokens:
            proxy["tokens"] = tuple(tokens)
        if isinstance(state, dict):
            unknown_state = set(state) - {"url", "prefix", "timeout", "ca_file"}
            if unknown_state:
                known = "ca_file, prefix, timeout, url"
                raise ConfigError(f"unknown [state] setting(s): {', '.join(sorted(unknown_state))}; known: {known}")
            if state.get("timeout") is not None:
                proxy["state_timeout"] = state["timeout"]
            if state.get("url") is not None:
                proxy["state"] = str(state["url"])
            if state.get("prefix") is not None:
                proxy["state_prefix"] = str(state["prefix"])
            if state.get("ca_file") is not None:
                proxy["state_ca_file"] = str(state["ca_file"])
        elif state is not None:
            proxy["state"] = str(state)
        if not isinstance(clients, list) or not all(isinstance(c, dict) for c in clients):
            raise ConfigError("clients must be [[clients]] tables")
        try:
            proxy["clients"] = clients_from_tables(clients, os.environ)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if signin is not None:
            try:
                proxy["signin"] = SignInConfig.from_mapping(signin, groups if groups is not None else [])
            except SignInError as exc:
                raise ConfigError(str(exc)) from None
        elif groups is not None:
            raise ConfigError("[[groups]] are for signed-in users: add a [signin] table (or remove the groups)")
        if listed is not None and "upstream" in proxy:
            raise ConfigError("set either upstream (one upstream) or [[upstreams]] tables, not both")
        urls = overrides.pop("upstream", None)
        if isinstance(urls, str):
            urls = (urls,)
        proxy.update({k: v for k, v in overrides.items() if v is not None})
        try:
            if urls:  # the command line's --upstream (repeatable) wins over the file's upstreams
                proxy["upstream"] = urls[0]
                if len(urls) > 1:
                    proxy["upstreams"] = specs_from_urls(urls, _held_key(proxy))
            elif listed is not None:
                proxy["upstreams"] = upstreams_from_list(listed)
        except UpstreamConfigError as exc:
            raise ConfigError(str(exc)) from None
        if ("tokens" in proxy or proxy["clients"] or "signin" in proxy) and "upstream_key" not in proxy:
            proxy["upstream_key"] = os.environ.get("ANTHROPIC_API_KEY")
        for name in ("affinity_headers",):
            if isinstance(proxy.get(name), list):
                proxy[name] = tuple(proxy[name])
        proxy["policy"] = policy_from_mapping(policy_data)
        if openai is not None:
            try:
                proxy["openai"] = OpenAISettings.from_mapping(openai)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        try:
            return cls(**proxy)
        except TypeError as exc:
            raise ConfigError(f"bad gateway setting: {exc}") from exc


def _held_key(proxy: dict[str, Any]) -> tuple[str, ...]:
    """The key the gateway holds for upstreams given as URLs: only in token mode."""
    if not proxy.get("tokens") and not proxy.get("clients") and not proxy.get("signin"):
        return ()
    key = proxy.get("upstream_key") or os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise ConfigError("client tokens are set but there is no upstream key: set ANTHROPIC_API_KEY or upstream_key")
    return (key,)


def read_tokens(path: str | Path) -> list[str]:
    """Client tokens from a file, one a line (blank lines and ``#`` comments skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read tokens file {path}: {exc.strerror or exc}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def policy_from_mapping(data: dict[str, Any]) -> Policy:
    """A `Policy` from a ``[policy]`` table; unknown fields are an error naming the known ones."""
    data = dict(data)
    names = {f.name for f in dataclasses.fields(Policy)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"unknown policy setting(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(names))}")
    budget = data.pop("retry_budget", None)
    try:
        if isinstance(budget, dict):
            data["retry_budget"] = RetryBudget(**budget)
        elif budget is False:
            data["retry_budget"] = None
        return Policy(**data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad policy setting: {exc}") from exc
