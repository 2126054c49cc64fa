"""`claudewire sim`: run the Anthropic-compatible simulator with fault injection until Ctrl-C."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import json
import logging
import signal
import sys

import click

from claudewire._secrets import redact
from claudewire.cli import logs
from claudewire.sim import APIS, PROFILES, FaultSpec, FaultSpecError, Pacing, RateLimits, SimConfig, SimServer
from claudewire.sim.faults import describe
from claudewire.sim.federation import SimFederation

_EPILOG = (
    "\b\nProfiles:\n"
    + "\n".join(f"  {name:<16} {describe(specs)}" for name, specs in PROFILES.items())
    + (
        "\n\n\b\nFault grammar: KIND[:RATE][,key=value ...]   (RATE 0..1, default 1)\n"
        "  KIND: 400 401 402 403 404 408 409 413 429 500 502 503 504 529, overloaded rate_limit billing timeout\n"
        "        spend_limit reset stall portal latency skew midstream_error cut slow buffered\n"
        "  keys: count=N (at most N times)  path=/v1/messages (only there)  retry_after=S|none (429 503 529)\n"
        "        ms=200 or ms=100-500 (latency slow buffered)  seconds=S (stall skew)  after=N (midstream_error cut)\n"
        "\n\b\nExamples:\n"
        "  claudewire sim                                   healthy, http://127.0.0.1:8780\n"
        "  claudewire sim --fault 529:0.2 --seed 7          one request in five overloaded, reproducibly\n"
        "  claudewire sim --fault 429:1.0,retry_after=2,count=3   three rate limits, then fine\n"
        "  claudewire sim --fault midstream_error:1.0,after=3 --fault latency:1.0,ms=100-500\n"
        "  claudewire sim --profile corporate-proxy --tls  buffered streams over HTTPS with its own CA\n"
        "  claudewire sim --pacing off                      streams as fast as possible (benchmarks)\n"
        "  claudewire sim --ttft 2 --per-token 0.05         a slow model\n"
        "  claudewire sim --api bedrock --fault midstream_error:1.0,status=429   Bedrock, throttled mid-stream\n"
        "  claudewire sim --api vertex --region us-east5    Vertex AI rawPredict / streamRawPredict\n"
        "  claudewire sim --api bedrock-mantle              Claude in Amazon Bedrock: /anthropic/v1/messages, SigV4\n"
    )
)


def _faults(specs: tuple[str, ...]) -> tuple[FaultSpec, ...]:
    try:
        return tuple(FaultSpec.parse(s) for s in specs)
    except FaultSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None


def _federation(jwks: str | None, issuer: str | None, expires_in: int) -> SimFederation | None:
    if jwks is None:
        if issuer is not None:
            raise click.UsageError("--federation-issuer needs --federation-jwks FILE (the issuer's public keys)")
        return None
    try:
        with open(jwks, encoding="utf-8") as handle:
            document = json.load(handle)
        return SimFederation(jwks=document, issuer=issuer, expires_in=expires_in)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.BadParameter(f"{jwks}: {exc}", param_hint="--federation-jwks") from None


def _pacing(name: str, ttft: float | None, per_token: float | None) -> Pacing:
    base = Pacing.realistic() if name == "realistic" else Pacing()
    return Pacing(base.ttft if ttft is None else ttft, base.per_token if per_token is None else per_token)


async def _serve(config: SimConfig) -> None:
    server = SimServer(config)
    await server.start()
    click.echo(
        f"claudewire sim listening on {server.base_url} (profile {config.profile}; faults: "
        f"{describe(server.app.plan.faults)}; {_describe_pacing(config.pacing)})"
    )
    for line in _exports(config, server.base_url):
        click.echo(f"  {line}")
    if server.ca_path:
        click.echo(f"  export SSL_CERT_FILE={server.ca_path}      # trust the simulator's CA (Python, curl)")
        click.echo(f"  export NODE_EXTRA_CA_CERTS={server.ca_path}  # and in Node")
    if config.federation is not None:
        click.echo(f"  POST {server.base_url}/v1/oauth/token exchanges identity tokens from the configured issuer")
    if config.api_keys:
        click.echo(f"  accepting {len(config.api_keys)} key(s): {', '.join(redact(k) for k in config.api_keys)}")
    elif config.api in ("anthropic", "foundry"):
        var = "ANTHROPIC_API_KEY" if config.api == "anthropic" else "ANTHROPIC_FOUNDRY_API_KEY"
        click.echo(f"  export {var}=sk-ant-sim-anything   # any non-empty key is accepted")
    click.echo("Press Ctrl-C to stop.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        s = server.stats.snapshot()
        click.echo(f"claudewire sim stopped after {s['total']} request(s).")


def _exports(config: SimConfig, base_url: str) -> list[str]:
    """The environment a client (the SDK, Claude Code) needs to talk to this simulator's dialect."""
    if config.api == "bedrock":
        region = config.region or "us-east-1"
        signing = "verified" if config.aws_access_key_id else "checked for service bedrock, not verified"
        return [
            f"export ANTHROPIC_BEDROCK_BASE_URL={base_url} AWS_REGION={region}",
            f"# SigV4 signatures {signing}; or a Bedrock API key: AWS_BEARER_TOKEN_BEDROCK=anything",
            "export CLAUDE_CODE_USE_BEDROCK=1   # Claude Code; with CLAUDE_CODE_SKIP_BEDROCK_AUTH=1 it sends no key",
        ]
    if config.api == "vertex":
        return [
            f"export ANTHROPIC_VERTEX_BASE_URL={base_url}/v1 CLOUD_ML_REGION={config.region or 'us-east5'}",
            "export ANTHROPIC_VERTEX_PROJECT_ID=sim-project   # any project; any bearer token is accepted",
            "export CLAUDE_CODE_USE_VERTEX=1    # Claude Code; with CLAUDE_CODE_SKIP_VERTEX_AUTH=1 it sends no token",
        ]
    if config.api == "foundry":
        return [f"export ANTHROPIC_FOUNDRY_BASE_URL={base_url}/anthropic/"]
    if config.api == "bedrock-mantle":
        region = config.region or "us-east-1"
        signing = "verified" if config.aws_access_key_id else "checked for service bedrock-mantle, not verified"
        return [
            f"export ANTHROPIC_BEDROCK_MANTLE_BASE_URL={base_url}/anthropic AWS_REGION={region}",
            f"# SigV4 signatures {signing}; or a Bedrock API key: AWS_BEARER_TOKEN_BEDROCK=anything",
            "# model ids: anthropic.<claude id>, e.g. anthropic.claude-haiku-4-5",
        ]
    return [f"export ANTHROPIC_BASE_URL={base_url}"]


def _describe_pacing(pacing: Pacing) -> str:
    if not pacing.ttft and not pacing.per_token:
        return "pacing off"
    return f"pacing: first token after {pacing.ttft:g} s, then {pacing.per_token * 1000:g} ms a token"


def _run(config: SimConfig) -> None:
    try:
        import uvloop  # the `fast` extra: the simulator should never be what limits a benchmark
    except ImportError:
        asyncio.run(_serve(config))
    else:
        uvloop.run(_serve(config))


@click.command(epilog=_EPILOG, context_settings={"max_content_width": 110})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8780, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--tls", is_flag=True, help="Serve HTTPS with a certificate from a CA generated now (path printed).")
@click.option("--profile", default="healthy", show_default=True, type=click.Choice(list(PROFILES)))
@click.option("--fault", "faults", multiple=True, metavar="SPEC", help="Add a fault to the profile (repeatable).")
@click.option("--seed", type=int, default=None, help="Seed the fault dice: same seed, same faults in order.")
@click.option("--api-key", "api_keys", multiple=True, metavar="KEY", help="Accept only these keys (repeatable).")
@click.option(
    "--pacing",
    "pacing_name",
    type=click.Choice(["realistic", "off"]),
    default="realistic",
    show_default=True,
    help="Streaming tempo: like a real model (0.4 s to the first token, then 50 tokens/s), or off (as fast as "
    "possible, for benchmarks).",
)
@click.option("--ttft", type=click.FloatRange(0), default=None, help="Seconds to the first event (overrides --pacing).")
@click.option("--per-token", type=click.FloatRange(0), default=None, help="Seconds per delta (overrides --pacing).")
@click.option("--log-requests", is_flag=True, help="Log one line per request (stderr): method, path, status, time.")
@click.option("--rpm", type=click.IntRange(1), default=4000, show_default=True, help="Requests per minute per key.")
@click.option("--tpm", type=click.IntRange(1), default=400_000, show_default=True, help="Tokens per minute per key.")
@click.option("--clock-skew", type=float, default=0.0, show_default=True, help="Seconds added to every Date header.")
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    metavar="YYYY-MM-DD",
    help="Judge model lifecycles on this day (default: today, UTC): e.g. the day after a retirement, to see how "
    "your app meets the 404.",
)
@click.option(
    "--api",
    default="anthropic",
    show_default=True,
    type=click.Choice(APIS),
    help="Wire dialect: the Anthropic API, or Bedrock InvokeModel, Vertex AI rawPredict, Foundry /anthropic/, "
    "Claude in Amazon Bedrock (bedrock-mantle: /anthropic/v1/messages, SigV4 for service bedrock-mantle).",
)
@click.option(
    "--region", default=None, help="bedrock(-mantle): the SigV4 region (us-east-1); vertex: the only location served."
)
@click.option(
    "--aws-access-key-id", default=None, help="bedrock(-mantle): verify SigV4 signatures made with this key pair."
)
@click.option("--aws-secret-access-key", default=None, help="bedrock(-mantle): the secret of --aws-access-key-id.")
@click.option("--beta", "betas", multiple=True, metavar="NAME", help="bedrock: the accepted betas (replaces the list).")
@logs.options(default="INFO")
@click.option(
    "--expired-key",
    "expired_keys",
    multiple=True,
    metavar="KEY",
    help="cloud dialects: answer this API key, token or AWS access key id as expired (repeatable).",
)
@click.option(
    "--disable-model",
    "disabled_models",
    multiple=True,
    metavar="MODEL",
    help="cloud dialects: answer this model (catalogue name) as not enabled for the account (repeatable).",
)
@click.option(
    "--federation-jwks",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    metavar="FILE",
    help="Serve POST /v1/oauth/token (workload identity federation) trusting identity tokens signed by this JWKS's "
    "keys, and accept the bearer tokens it mints.",
)
@click.option("--federation-issuer", default=None, metavar="URL", help="With --federation-jwks: the iss required.")
@click.option(
    "--federation-expires-in",
    type=click.IntRange(1),
    default=600,
    show_default=True,
    help="With --federation-jwks: seconds a minted token lives.",
)
def sim(
    host: str,
    port: int,
    tls: bool,
    profile: str,
    faults: tuple[str, ...],
    seed: int | None,
    api_keys: tuple[str, ...],
    pacing_name: str,
    ttft: float | None,
    per_token: float | None,
    log_requests: bool,
    rpm: int,
    tpm: int,
    clock_skew: float,
    today: dt.datetime | None,
    api: str,
    region: str | None,
    aws_access_key_id: str | None,
    aws_secret_access_key: str | None,
    betas: tuple[str, ...],
    log_level: str,
    log_format: str,
    expired_keys: tuple[str, ...],
    disabled_models: tuple[str, ...],
    federation_jwks: str | None,
    federation_issuer: str | None,
    federation_expires_in: int,
) -> None:
    """Run an Anthropic-compatible API simulator with fault injection.

    It serves /v1/messages (plain and streaming), /v1/messages/count_tokens and /v1/models with the API's
    shapes, keys, versions and rate-limit headers, and fails on purpose: point a client at the printed
    ANTHROPIC_BASE_URL to see how it copes. No key and no network needed. With --api it speaks a cloud's
    surface for Claude instead (Bedrock's event-stream and SigV4, Vertex AI's rawPredict, Foundry).
    """
    logs.configure(log_level, log_format)
    # one line per request only when asked for, whatever the level
    logging.getLogger("claudewire.sim.requests").setLevel(logging.INFO if log_requests else logging.WARNING)
    logs.hide(*api_keys, aws_secret_access_key)
    if (aws_access_key_id is None) != (aws_secret_access_key is None):
        raise click.UsageError("--aws-access-key-id and --aws-secret-access-key go together")
    federation = _federation(federation_jwks, federation_issuer, federation_expires_in)
    if federation is not None and api != "anthropic":
        raise click.UsageError("--federation-jwks goes with --api anthropic (the Claude API's /v1/oauth/token)")
    config = SimConfig(
        host=host,
        port=port,
        tls=tls,
        profile=profile,
        faults=_faults(faults),
        seed=seed,
        api_keys=api_keys,
        pacing=_pacing(pacing_name, ttft, per_token),
        rate_limits=RateLimits(rpm, tpm),
        clock_skew=clock_skew,
        today=today.date() if today is not None else None,
        api=api,
        region=region,
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        betas=frozenset(betas) if betas else None,
        federation=federation,
        expired_keys=expired_keys,
        disabled_models=disabled_models,
    )
    try:
        _run(config)
    except OSError as exc:  # the port is taken, the address is not ours ...
        hint = " (another program uses the port: pick another with --port, or --port 0 for a free one)"
        busy = exc.errno == errno.EADDRINUSE
        click.echo(
            f"claudewire sim: cannot listen on {host}:{port}: {exc.strerror or exc}{hint if busy else ''}", err=True
        )
        sys.exit(2)
    except KeyboardInterrupt:
        pass
