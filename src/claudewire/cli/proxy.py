"""`claudewire proxy`: run the Anthropic-native gateway (parse flags, build the config, run it, print how to use it)."""

from __future__ import annotations

import os
import re
import sys

import click

from claudewire._net import is_loopback
from claudewire._secrets import redact
from claudewire.cli import logs
from claudewire.cli.banner import base_url_lines, otlp_line, upstream_where, workers_note
from claudewire.gateway import ConfigError, Gateway, GatewayConfig, run
from claudewire.gateway.downstream.tls import fingerprint
from claudewire.gateway.server import open_files_limit
from claudewire.state import StateError, open_state

_SECRET_NAME = re.compile(r"(?i)secret|token|password|key")

_EPILOG = """\b
Examples:
  claudewire proxy                                   # 127.0.0.1:8787 -> https://api.anthropic.com
  claudewire proxy --upstream http://127.0.0.1:8780  # in front of `claudewire sim`
  claudewire proxy --upstream https://api.anthropic.com --upstream http://10.0.0.5:8787   # failover, in order
  claudewire proxy --host 0.0.0.0 --tokens-file /etc/claudewire/tokens   # clients use tokens, the gateway the key
  claudewire proxy --workers 4                       # 4 processes on one port (SO_REUSEPORT)
  claudewire proxy --tls-cert gw.pem --tls-key gw.key   # HTTPS; kill -HUP re-reads renewed files
  claudewire proxy --workers 4 --state redis://127.0.0.1:6379/0   # limits and breakers shared by all of them

\b
Endpoints: /v1/* (forwarded), /console (a live page: calls, upstreams, keys, clients), /metrics (Prometheus),
/healthz, /readyz (JSON per upstream and key; 503 while no upstream can take traffic).
The config file (TOML) takes every flag's setting in [proxy], the retry policy in [policy] and any number of
[[upstreams]] (name, url, keys = ["env:NAME" | "file:PATH" | literal], priority, weight, models, kind =
anthropic | bedrock | bedrock-mantle | vertex | foundry with that cloud's fields: docs/cloud-upstreams.md).
[[clients]] give named tokens their own limits (name, token_sha256, requests_per_minute, tokens_per_minute,
tokens_per_day, models); [state] url = "redis://..." shares them across workers and replicas.
With tokens, /metrics on the main port needs a gateway token; --metrics-port serves it apart (on --metrics-host,
loopback by default) without one, and the main port no longer serves it.
"""


def _held_secrets(config: GatewayConfig) -> list[str | None]:
    """The keys, tokens and cloud credentials this run holds (scrubbed from every log line)."""
    held: list[str | None] = [config.upstream_key, *config.tokens]
    for spec in config.upstreams:
        held += spec.keys
        held += [v for k, v in spec.options.items() if isinstance(v, str) and _SECRET_NAME.search(k)]
    return held


def _bound(host: str, port: int) -> str:
    """The address the listener is bound to, as ``host:port`` (``[v6]:port``), with what a wildcard means."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"
    if host in ("", "0.0.0.0"):
        return f"{shown} (every IPv4 address of this machine)"
    if host == "::":
        return f"{shown} (every address of this machine)"
    return shown


def _announce(config: GatewayConfig, gateway: Gateway, port: int) -> None:
    shown = config.replace(port=port)
    if len(config.upstreams) == 1:
        where = upstream_where(config.upstreams[0], gateway)
    else:
        where = ", ".join(f"{spec.name} (priority {spec.priority})" for spec in config.upstreams)
    bound = _bound(config.host, port)
    click.echo(f"claudewire proxy listening on {bound} -> {where} (workers: {config.workers})")
    local = "" if is_loopback(config.host) or config.host not in ("", "0.0.0.0", "::") else "   # from this machine"
    click.echo(f"  export ANTHROPIC_BASE_URL={shown.base_url}{local}")
    if not is_loopback(config.host) and not config.token_mode:
        held = " and the keys and cloud credentials it holds" if any(s.keys for s in config.upstreams) else ""
        click.echo(
            f"WARNING: claudewire proxy listens on {bound} without client tokens (--allow-open): anyone who can "
            f"reach that address can send calls through it{held}. Set client tokens (tokens_file, [[clients]]) "
            "unless a firewall or a private network already limits who can connect.",
            err=True,
        )
    click.echo("\n".join(base_url_lines(shown.base_url)))
    if config.token_mode:
        count = len(config.tokens) + len(config.clients)
        click.echo(f"  export ANTHROPIC_API_KEY=<one of your {count} gateway token(s)>")
    for spec in config.upstreams:
        if spec.keys:
            held = ", ".join(f"{spec.key_label(i)} {redact(key)}" for i, key in enumerate(spec.keys))
            click.echo(f"  {spec.name}: {upstream_where(spec, gateway)}, keys held by the gateway: {held}")
        elif len(config.upstreams) > 1:
            how = (
                "the client's own credentials are forwarded"
                if spec.forwards_credentials
                else "the cloud's own credential chain"
            )
            click.echo(f"  {spec.name}: {upstream_where(spec, gateway)}, {how}")
    if config.state and config.state != "memory":
        away = "" if gateway.state.up else "; not reachable now: served from this process's own state until it is"
        click.echo(f"  state: shared in {gateway.state.url} (prefix {config.state_prefix}){away}")
    elif config.workers > 1:
        click.echo(
            f"  state: in memory, so each of the {config.workers} workers keeps its own: client limits, breakers and "
            "retry budgets count per worker; --state redis://HOST:PORT/DB shares them"
        )
    if config.tls_cert:
        print_ = fingerprint(config.tls_cert) or "unreadable"
        click.echo(f"  tls: {config.tls_cert} (sha256 {print_}); kill -HUP {os.getpid()} re-reads the cert and key")
    files = open_files_limit()
    click.echo(
        f"  open files: {files or 'unknown'} (soft limit, raised to the hard limit); client connections capped at "
        f"{config.max_connections}, buffered bodies at {(config.body_budget or 0) // (1024 * 1024)} MiB"
    )
    if gateway.metrics_address is not None:
        host, mport = gateway.metrics_address
        metrics = f"http://{f'[{host}]' if ':' in host else host}:{mport}/metrics"
    else:
        metrics = f"{shown.base_url}/metrics" + (" (send a gateway token)" if config.token_mode else "")
    click.echo(otlp_line(config))
    if config.console_calls:
        ask = " (it asks for a gateway token)" if config.token_mode else ""
        click.echo(f"  console: {shown.base_url}/console{ask}")
    click.echo(f"  metrics: {metrics}{workers_note(config)}   health: {shown.base_url}/healthz   Ctrl-C to stop.")
    sys.stdout.flush()


@click.command(epilog=_EPILOG, context_settings={"max_content_width": 110})
@click.option("--host", default=None, help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="0 picks a free port.  [default: 8787]")
@click.option(
    "--upstream",
    "upstreams",
    multiple=True,
    metavar="URL",
    help="The API base URL; repeat for failover, each a lower priority.  [default: https://api.anthropic.com]",
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="A claudewire.toml to read.")
@click.option("--workers", type=click.IntRange(1), default=None, help="Processes sharing the port.  [default: 1]")
@click.option("--token", "tokens", multiple=True, metavar="TOKEN", help="A client token (repeatable).")
@click.option("--tokens-file", type=click.Path(dir_okay=False), help="Client tokens, one a line.")
@click.option("--allow-open", is_flag=True, default=None, help="Allow a non-loopback address without tokens.")
@click.option("--body-limit", type=click.IntRange(1), default=None, help="Largest request body in bytes.")
@click.option("--max-concurrency", type=click.IntRange(1), default=None, help="Upstream requests at once.")
@click.option("--max-queue", type=click.IntRange(0), default=None, help="Requests waiting for a slot.")
@click.option("--idle-timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Stream idle s.")
@click.option("--read-timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Answer wait s.")
@click.option(
    "--first-byte-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds a stream may wait for its response head and first event before it is retried.  [default: 30]",
)
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="PEM bundle to trust upstream.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="Serve /metrics on its own port.")
@click.option("--metrics-host", default=None, help="Address of the --metrics-port listener.  [default: 127.0.0.1]")
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Serve HTTPS with this PEM certificate chain (with --tls-key); SIGHUP re-reads both.",
)
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None, metavar="FILE", help="Its PEM private key.")
@click.option("--max-connections", type=click.IntRange(1), default=None, help="Open client connections at most.")
@click.option("--access-log", default=None, metavar="PATH|-|off", help="Where JSON access lines go.  [default: -]")
@click.option(
    "--state",
    default=None,
    metavar="URL",
    help="Where limits and breaker state live: memory, redis://HOST:PORT/DB or rediss://...  [default: memory]",
)
@click.option(
    "--otlp",
    default=None,
    metavar="URL",
    help="Export GenAI metrics and traces over OTLP to URL (http://collector:4318); the OTEL_* variables work too.",
)
@logs.options(default="INFO")
def proxy(
    host: str | None,
    port: int | None,
    upstreams: tuple[str, ...],
    config_path: str | None,
    workers: int | None,
    tokens: tuple[str, ...],
    tokens_file: str | None,
    allow_open: bool | None,
    body_limit: int | None,
    max_concurrency: int | None,
    max_queue: int | None,
    idle_timeout: float | None,
    read_timeout: float | None,
    first_byte_timeout: float | None,
    ca_file: str | None,
    metrics_port: int | None,
    metrics_host: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    max_connections: int | None,
    access_log: str | None,
    state: str | None,
    otlp: str | None,
    log_level: str,
    log_format: str,
) -> None:
    """Run a local Anthropic-native gateway: retries, a circuit breaker, unbuffered SSE and metrics.

    Point clients at it with ANTHROPIC_BASE_URL (printed at start) and change nothing else.
    """
    from claudewire.gateway.config import read_tokens

    logs.configure(log_level, log_format)
    flags: dict[str, object] = {
        "host": host,
        "port": port,
        "upstream": upstreams or None,
        "workers": workers,
        "allow_open": allow_open,
        "body_limit": body_limit,
        "max_concurrency": max_concurrency,
        "max_queue": max_queue,
        "idle_timeout": idle_timeout,
        "read_timeout": read_timeout,
        "first_byte_timeout": first_byte_timeout,
        "ca_file": ca_file,
        "metrics_port": metrics_port,
        "metrics_host": metrics_host,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "max_connections": max_connections,
        "access_log": "" if access_log in ("off", "none") else access_log,
        "state": state,
        "otlp": otlp,
    }
    try:
        all_tokens = list(tokens) + (read_tokens(tokens_file) if tokens_file else [])
        if all_tokens:
            flags["tokens"] = tuple(all_tokens)
        if config_path:
            config = GatewayConfig.from_toml(config_path, **flags)
        else:
            config = GatewayConfig.from_mapping({}, **flags)
        if config.state and config.state != "memory":
            open_state(config.state)  # fails here, not in every worker, when redis-py is missing
    except (ConfigError, StateError) as exc:
        raise click.UsageError(str(exc)) from None
    # what this run holds never reaches a log line, whoever logs it
    logs.hide(*_held_secrets(config))
    try:
        run(config, ready=lambda gateway, bound: _announce(config, gateway, bound))
    except OSError as exc:
        click.echo(f"claudewire proxy: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        pass
    # on stdout beside the banner, so whoever read "listening" also reads that it ended
    click.echo("claudewire proxy stopped.")
