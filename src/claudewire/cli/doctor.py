"""`claudewire doctor`: check every layer between you and the Claude API and print what to fix."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator

import click
from rich.console import Console

from claudewire.cli import logs
from claudewire.doctor import Profile, Report, Settings, render_json, render_markdown, render_terminal, run
from claudewire.doctor.render import LiveRows
from claudewire.doctor.result import CheckResult
from claudewire.doctor.settings import redact_url, split_url

_SIM_KEY = "sk-ant-sim-doctor-0000"

_EPILOG = """\b
Checks, in order: config proxy dns tcp tls certificate http clock auth version model ratelimit messages
streaming, cache with --cache, http2 with --profile cursor, with --profile cursor --url: reach_dns reach_https
reach_certificate reach_models, and with --profile claude-code and a gateway URL (--url, forceLoginGatewayUrl, or an
ANTHROPIC_BASE_URL that is not Anthropic's): signin_https signin_dns signin_certificate signin_metadata. Exit code 0
when nothing failed, 1 when a check failed, 2 for a usage error.

\b
Examples:
  claudewire doctor --sim                       diagnose the built-in simulator (no key, no network)
  claudewire doctor                             your setup: ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, HTTPS_PROXY ...
  claudewire doctor --profile claude-code       as Claude Code sees it (~/.claude/settings.json env, sign-in)
  claudewire doctor --markdown --no-spend       a report to paste into a support thread, spending no tokens
  claudewire doctor --cache                     also: does a repeated prompt read the prompt cache on this path?
  claudewire doctor --save-ca ca.pem            behind a TLS-inspecting proxy: save the CA it presents to trust
  claudewire doctor --target bedrock --region us-east-1   AWS credentials, region, clock, model access, betas
  claudewire doctor --target vertex --project P --region us-east5
  claudewire doctor --config claudewire.toml    every cloud upstream of a gateway config, as the gateway sees it
  claudewire doctor --profile cursor --url https://gw.example.com/cursor --token cw-...
                                                can Cursor's servers reach your gateway? (public address,
                                                HTTPS, a publicly trusted certificate, /models with the token)
  claudewire doctor --profile claude-code --url https://gateway.corp.internal:8787
                                                can Claude Code sign in to this gateway? (HTTPS, private
                                                addresses, the certificate fingerprint it will ask you to
                                                trust, the sign-in metadata)
"""


@contextlib.contextmanager
def _sim_settings(base: Settings) -> Iterator[Settings]:
    """Start the simulator (healthy, TLS with its own CA, on 127.0.0.1) and point `base` at it."""
    from claudewire.sim import Pacing
    from claudewire.testing import run_sim

    # The same realistic pace as `claudewire sim` (0.4 s to the first token, then 20 ms a token): the streaming check
    # sees a stream spread over a quarter second, wide enough that a busy machine does not squeeze it into a burst.
    with run_sim(tls=True, pacing=Pacing.realistic()) as sim:
        yield dataclasses.replace(
            base,
            base_url=sim.base_url,
            base_url_source="--sim",
            api_key=base.api_key or _SIM_KEY,
            key_source=base.key_source if base.api_key else "--sim",
            proxy=dataclasses.replace(base.proxy, url=None, bypassed=None, source=None),
            ca_file=sim.ca_path,
            ca_dir=None,
            node_extra_ca=sim.ca_path,
            cursor_hosts=(),
            # a gateway found in the environment is not what --sim diagnoses; a --url given with it still is
            url=base.url if base.url_source == "--url" else None,
            url_source=base.url_source if base.url_source == "--url" else None,
        )


@click.command(
    "doctor", epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.option("--base-url", metavar="URL", help="API root (default: $ANTHROPIC_BASE_URL or https://api.anthropic.com).")
@click.option("--api-key", metavar="KEY", help="API key (default: $ANTHROPIC_API_KEY or $ANTHROPIC_AUTH_TOKEN).")
@click.option(
    "--model",
    metavar="MODEL",
    help="Model to check (default: $ANTHROPIC_MODEL; with --profile claude-code, the model Claude Code will use: "
    "its settings' model, else the installed version's default; else claude-haiku-4-5).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=300),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Bound on each network step; the whole run is bounded by four of them.",
)
@click.option(
    "--profile",
    type=click.Choice([p.value for p in Profile]),
    default=Profile.API.value,
    show_default=True,
    help="Whose view: the Python SDK (api), Claude Code (its settings files' env and model, apiKeyHelper, OAuth "
    "sign-in, NODE_EXTRA_CA_CERTS / NODE_USE_SYSTEM_CA) or Cursor (http2 to Cursor's hosts; Cursor uses your own "
    "key and base URL from its servers, so it ignores ANTHROPIC_* here: give them as --api-key / --base-url).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--markdown", is_flag=True, help="Print the report as markdown, to paste into a support thread.")
@click.option("--no-spend", is_flag=True, help="Skip the checks that spend tokens (messages, streaming).")
@click.option(
    "--cache",
    is_flag=True,
    help="Also check the prompt cache: one cacheable prompt (~5,000 tokens) sent twice must be read the second time.",
)
@click.option(
    "--save-ca",
    metavar="PATH",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the CA part of the certificate chain the API host presents (intermediates and root, PEM) to PATH, "
    "e.g. a TLS-intercepting proxy's; the certificate fix then prints the command that builds a bundle from the "
    "system's CAs plus PATH, and SSL_CERT_FILE / NODE_EXTRA_CA_CERTS to point at it.",
)
@click.option(
    "--url",
    metavar="URL",
    help="With --profile cursor: the base URL Cursor is given (e.g. https://gw.example.com/cursor), checked as "
    "Cursor's servers reach it from the internet: the host's addresses are public, it is https://, the certificate "
    "chain is trusted by the public roots alone (not SSL_CERT_FILE), and GET URL/models answers a model list with "
    "the token. With --profile claude-code: a gateway URL (e.g. https://gateway.corp.internal:8787) checked "
    "against what Claude Code's gateway sign-in requires: https:// (plain http only on loopback), addresses that "
    "are all private, a certificate its trust store verifies (its SHA-256 fingerprint printed as Claude Code "
    "shows it, to compare before you trust it), and sign-in metadata at URL/.well-known/oauth-authorization-server "
    "(default: forceLoginGatewayUrl from Claude Code's settings, or an ANTHROPIC_BASE_URL that is not Anthropic's).",
)
@click.option(
    "--token",
    metavar="TOKEN",
    help="With --profile cursor: the token sent to --url as Authorization: Bearer (default: $CLAUDEWIRE_TOKEN, else "
    "$OPENAI_API_KEY); only over https://, never printed.",
)
@click.option("--sim", is_flag=True, help="Start the built-in simulator on 127.0.0.1 and diagnose it.")
@logs.options(default="WARNING")
@click.option(
    "--target",
    type=click.Choice(["bedrock", "bedrock-mantle", "vertex", "foundry"]),
    default=None,
    help="Check a cloud endpoint instead: credential source, region, clock, model access, betas (1-token calls).",
)
@click.option("--region", metavar="REGION", help="With --target: the region (default: AWS_REGION / CLOUD_ML_REGION).")
@click.option("--project", metavar="PROJECT", help="With --target vertex: the project (ANTHROPIC_VERTEX_PROJECT_ID).")
@click.option(
    "--config",
    "config_file",
    metavar="TOML",
    type=click.Path(exists=True, dir_okay=False),
    help="Check every cloud upstream of this gateway config (claudewire proxy --config) as the gateway sees it.",
)
@click.option("--beta", "betas", multiple=True, metavar="NAME", help="With --target/--config: a beta to try.")
def doctor(
    base_url: str | None,
    api_key: str | None,
    model: str | None,
    timeout: float,
    profile: str,
    as_json: bool,
    markdown: bool,
    no_spend: bool,
    cache: bool,
    save_ca: str | None,
    url: str | None,
    token: str | None,
    sim: bool,
    log_level: str,
    log_format: str,
    target: str | None,
    region: str | None,
    project: str | None,
    config_file: str | None,
    betas: tuple[str, ...],
) -> None:
    """Diagnose the connection to the Claude API, layer by layer, with a fix for each failure."""
    logs.configure(log_level, log_format)
    if target is not None or config_file is not None:
        if target is not None and config_file is not None:
            raise click.UsageError("--target and --config exclude each other: pick one")
        if sim or markdown:
            raise click.UsageError("--sim and --markdown do not apply to --target / --config")
        from claudewire.cli.doctor_cloud import run_cloud_doctor

        raise SystemExit(
            run_cloud_doctor(
                target=target,
                config=config_file,
                region=region,
                project=project,
                base_url=base_url,
                api_key=api_key,
                model=model,
                betas=betas,
                timeout=timeout,
                as_json=as_json,
            )
        )
    if region or project or betas:
        raise click.UsageError("--region, --project and --beta go with --target or --config")
    if as_json and markdown:
        raise click.UsageError("--json and --markdown exclude each other: pick one")
    if sim and base_url:
        raise click.UsageError("--sim diagnoses the built-in simulator: it cannot be combined with --base-url")
    _check_url(url, token, Profile(profile))
    settings = Settings.from_env(
        base_url=base_url,
        api_key=api_key,
        model=model,
        timeout=timeout,
        profile=profile,
        spend=not no_spend,
        cache=cache,
        save_ca=save_ca,
        url=url,
        token=token,
    )
    logs.hide(settings.api_key, settings.token)
    live = not as_json and not markdown and sys.stdout.isatty()
    if sim:
        with _sim_settings(settings) as sim_settings:
            settings = sim_settings
            report = _run(settings, live)
    else:
        report = _run(settings, live)
    _print(report, settings, as_json=as_json, markdown=markdown)
    raise SystemExit(report.exit_code)


def _check_url(url: str | None, token: str | None, profile: Profile) -> None:
    """Usage errors of --url and --token."""
    if token is not None and (url is None or profile is not Profile.CURSOR):
        raise click.UsageError("--token is sent to the URL Cursor is given: use it with --profile cursor --url URL")
    if url is None:
        return
    if profile is Profile.API:
        raise click.UsageError(
            "--url checks a URL as a tool reaches it: add --profile cursor (Cursor's base URL) or --profile "
            "claude-code (a gateway to sign in to)"
        )
    if split_url(url) is None:
        raise click.UsageError(
            f"--url must be an http(s) URL with a host, e.g. https://gw.example.com/cursor, got {url!r}"
        )


def _run(settings: Settings, live: bool) -> Report:
    """The run; on a terminal each check's row shows as it finishes (rich Live), replaced by the report at the end."""
    if not live:
        return run(settings)
    from rich.live import Live

    rows = LiveRows(redact_url(settings.base_url), (settings.api_key, settings.token))
    with Live(rows, console=Console(highlight=False), transient=True, refresh_per_second=8) as view:

        def show(check: CheckResult) -> None:
            rows.add(check)
            view.refresh()

        return run(settings, on_result=show)


def _print(report: Report, settings: Settings, *, as_json: bool, markdown: bool) -> None:
    secrets = (settings.api_key, settings.token)
    if as_json:
        click.echo(render_json(report, secrets))
    elif markdown:
        click.echo(render_markdown(report, secrets))
    else:
        # piped into a file or a CI log, rich would wrap at 80 columns: give the table room
        width = None if sys.stdout.isatty() else 120
        render_terminal(report, Console(highlight=False, width=width), secrets)
