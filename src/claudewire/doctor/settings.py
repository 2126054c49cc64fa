"""What the doctor diagnoses, resolved from the environment users already have (and explicit overrides).

`Settings.from_env` reads ``ANTHROPIC_API_KEY`` / ``ANTHROPIC_AUTH_TOKEN``, ``ANTHROPIC_BASE_URL``, the proxy
variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY``, any case), ``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` and, for the claude-code profile, ``NODE_EXTRA_CA_CERTS``. Everything the checks need is in the
frozen `Settings`, so a run never reads ``os.environ`` behind the caller's back. With ``--profile cursor --url`` it
also reads the token to send there: ``--token``, else ``CLAUDEWIRE_TOKEN``, else ``OPENAI_API_KEY``.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpcore2

from claudewire._net import origin
from claudewire._secrets import redact_url
from claudewire.doctor.claude_code import ClaudeCodeView, claude_code_view, run_key_helper
from claudewire.doctor.model_choice import alias_variable, claude_code_default, claude_code_version

__all__ = [
    "CURSOR_IGNORES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "TOKEN_VARIABLES",
    "Profile",
    "ProxyChoice",
    "Settings",
    "choose_proxy",
    "redact_url",
    "split_url",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MODEL = "claude-haiku-4-5"
CURSOR_HOSTS: tuple[str, ...] = ("api2.cursor.sh",)
# Variables Cursor does not read (its custom key and base URL are set in its settings, used from its servers).
CURSOR_IGNORES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL")
# Where the token sent to --url comes from when --token is not given, first found wins.
TOKEN_VARIABLES = ("CLAUDEWIRE_TOKEN", "OPENAI_API_KEY")
# Variables that switch certificate verification off, and the values that do it.
_INSECURE: dict[str, tuple[str, ...]] = {"NODE_TLS_REJECT_UNAUTHORIZED": ("0",), "PYTHONHTTPSVERIFY": ("0",)}


class Profile(enum.StrEnum):
    """Whose view of the connection to check: the Python SDK's, Claude Code's (Node) or Cursor's."""

    API = "api"
    CLAUDE_CODE = "claude-code"
    CURSOR = "cursor"


@dataclass(frozen=True, slots=True)
class ProxyChoice:
    """The proxy a client would use for the target: its URL and the variable it came from (None: direct).

    `bypassed` names the proxy that is configured but skipped because ``NO_PROXY`` matches the target.
    """

    url: str | None = None
    source: str | None = None
    no_proxy: str | None = None
    bypassed: str | None = None


def _env_get(env: Mapping[str, str], name: str) -> tuple[str | None, str | None]:
    """The value of `name` in lower then upper case (curl's and Python's precedence), and the name that held it."""
    for candidate in (name.lower(), name.upper()):
        value = env.get(candidate)
        if value is not None and value.strip():
            return value.strip(), candidate
    return None, None


def no_proxy_matches(no_proxy: str, host: str, port: int) -> bool:
    """Whether a ``NO_PROXY`` list bypasses the proxy for `host`:`port` (exact, domain suffix, ``*``)."""
    host = host.strip("[]").lower()
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port.isdigit() and int(entry_port) != port:
            continue
        name = name.lstrip("*").lstrip(".").strip("[]")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def choose_proxy(env: Mapping[str, str], scheme: str, host: str, port: int) -> ProxyChoice:
    """The proxy a client honouring the usual variables would use to reach `scheme`://`host`:`port`."""
    names = ("https_proxy", "all_proxy") if scheme == "https" else ("http_proxy", "all_proxy")
    url: str | None = None
    source: str | None = None
    for name in names:
        url, source = _env_get(env, name)
        if url:
            break
    no_proxy, _ = _env_get(env, "no_proxy")
    if url and no_proxy and no_proxy_matches(no_proxy, host, port):
        return ProxyChoice(None, source, no_proxy, bypassed=url)
    return ProxyChoice(url, source, no_proxy)


@dataclass(frozen=True, slots=True)
class Settings:
    """One diagnosis: the target, the credentials, the route (proxy), the trust store and the bounds.

    `timeout` bounds each network step; `deadline` the whole run (default: four timeouts). `ca_file` / `ca_dir`
    play the role of ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``; `node_extra_ca` of ``NODE_EXTRA_CA_CERTS``.
    `anthropic_version` overrides the header the SDK sends (None: the SDK's own). `spend` False skips the checks
    that spend tokens. `insecure_env` names variables found set to switch certificate verification off.
    `save_ca` is a file to write the CA part of the certificate chain the API host presents to (``--save-ca``).
    `url` is a URL checked as the profile's tool reaches it: Cursor's base URL (``--url``) from outside in, with
    `token` sent there as ``Authorization: Bearer``; Claude Code's gateway (``--url``, its ``forceLoginGatewayUrl``,
    or a base URL that is not Anthropic's) against its sign-in preconditions. `url_proxy` is the route to it.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    key_source: str | None = None
    model: str = DEFAULT_MODEL
    timeout: float = 5.0
    deadline: float | None = None
    profile: Profile = Profile.API
    spend: bool = True
    proxy: ProxyChoice = field(default_factory=ProxyChoice)
    ca_file: str | None = None
    ca_dir: str | None = None
    node_extra_ca: str | None = None
    anthropic_version: str | None = None
    cursor_hosts: tuple[str, ...] = CURSOR_HOSTS
    insecure_env: tuple[str, ...] = ()
    cache: bool = False
    claude_code: ClaudeCodeView | None = None  # --profile claude-code: its settings, sources, sign-in
    key_notes: tuple[str, ...] = ()  # problems found while resolving the key (both variables set, helper failed)
    node_use_system_ca: bool = False
    save_ca: str | None = None
    today: dt.date | None = None  # the day model lifecycles are judged on (None: today, UTC); tests pin it
    model_source: str | None = None  # where `model` came from, in words ("model in ~/.claude/settings.json" ...)
    base_url_source: str | None = None  # "--base-url", "ANTHROPIC_BASE_URL", "--sim"; None: the default
    cursor_ignored: tuple[str, ...] = ()  # --profile cursor: variables set here that Cursor does not read
    url: str | None = None  # --url: see claudewire.doctor.reach (cursor) and claudewire.doctor.signin (claude-code)
    url_source: str | None = None  # "--url", "forceLoginGatewayUrl in FILE", "ANTHROPIC_BASE_URL", "--base-url"
    token: str | None = None  # sent to `url` as Authorization: Bearer; never printed
    token_source: str | None = None  # "--token", "CLAUDEWIRE_TOKEN", "OPENAI_API_KEY"
    url_proxy: ProxyChoice = field(default_factory=ProxyChoice)  # the route to `url`

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", Profile(self.profile))  # accept "cursor" as well as Profile.CURSOR
        if self.save_ca is not None:  # the fix's commands name it: they must work from any directory
            object.__setattr__(self, "save_ca", os.path.abspath(self.save_ca))
        if not self.timeout > 0:
            raise ValueError("timeout must be > 0 seconds")
        if self.deadline is not None and not self.deadline > 0:
            raise ValueError("deadline must be > 0 seconds")

    @property
    def run_deadline(self) -> float:
        """Seconds the whole run may take."""
        return self.deadline if self.deadline is not None else 4 * self.timeout

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 5.0,
        deadline: float | None = None,
        profile: Profile | str = Profile.API,
        spend: bool = True,
        cache: bool = False,
        save_ca: str | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> Settings:
        """Settings from `env` (default ``os.environ``), explicit arguments winning over variables."""
        env = os.environ if env is None else env
        profile = Profile(profile)
        ignored: tuple[str, ...] = ()
        if profile is Profile.CURSOR:  # Cursor reads none of these: its key and base URL are in its own settings
            ignored = tuple(n for n in CURSOR_IGNORES if env.get(n))
            env = {k: v for k, v in env.items() if k not in CURSOR_IGNORES}
        view: ClaudeCodeView | None = None
        if profile is Profile.CLAUDE_CODE:
            view = claude_code_view(env)  # Claude Code runs with its settings files' env on top of the shell's
            env = view.env
        key_source: str | None = None
        notes: list[str] = []
        if env.get("ANTHROPIC_API_KEY") and env.get("ANTHROPIC_AUTH_TOKEN"):
            notes.append(
                "both ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN are set: clients send both (x-api-key and "
                "Authorization: Bearer) and a gateway may pick the wrong one; keep one"
            )
        if api_key is not None:
            key_source = "--api-key"
        else:
            for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
                if env.get(name):
                    api_key, key_source = env[name], name
                    if view is not None and view.sources.get(name, "shell") != "shell":
                        key_source = f"{name} from {view.sources[name]}"
                    break
        if api_key is None and view is not None and view.key_helper:
            api_key, problem = run_key_helper(view.key_helper, timeout)
            key_source = f"apiKeyHelper from {view.key_helper_source}"
            if problem:
                notes.append(f"{problem} ({view.key_helper_source})")
        base = base_url or env.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        base_source = "--base-url" if base_url else ("ANTHROPIC_BASE_URL" if env.get("ANTHROPIC_BASE_URL") else None)
        parts = split_url(base)
        proxy = choose_proxy(env, parts[0], parts[1], parts[2]) if parts else ProxyChoice()
        chosen, model_source = _choose_model(model, env, view, timeout)
        if profile is Profile.CURSOR and model_source.startswith("the doctor's default"):
            model_source = "the doctor's default: Cursor's model picker names yours"
        url_source = "--url" if url else None
        if url is None and view is not None:  # Claude Code: the gateway it signs in to, or the one it is pointed at
            url, url_source = _gateway_of(view, base, base_source)
        token_source = "--token" if token else None
        if url and not token and profile is Profile.CURSOR:
            token, token_source = next(((env[n], n) for n in TOKEN_VARIABLES if env.get(n)), (None, None))
        url_parts = split_url(url) if url else None
        url_proxy = choose_proxy(env, *url_parts) if url_parts else ProxyChoice()
        return cls(
            base_url=base,
            api_key=api_key,
            key_source=key_source,
            model=chosen,
            model_source=model_source,
            base_url_source=base_source,
            cursor_ignored=ignored,
            url=url,
            url_source=url_source,
            token=token,
            token_source=token_source,
            url_proxy=url_proxy,
            timeout=timeout,
            deadline=deadline,
            profile=profile,
            spend=spend,
            proxy=proxy,
            ca_file=env.get("SSL_CERT_FILE") or None,
            ca_dir=env.get("SSL_CERT_DIR") or None,
            node_extra_ca=env.get("NODE_EXTRA_CA_CERTS") or None,
            insecure_env=tuple(f"{n}={env[n]}" for n, off in _INSECURE.items() if env.get(n, "").strip() in off),
            cache=cache,
            claude_code=view,
            key_notes=tuple(notes),
            node_use_system_ca=profile is Profile.CLAUDE_CODE and env.get("NODE_USE_SYSTEM_CA", "").strip() == "1",
            save_ca=save_ca,
        )

    def trust_source(self) -> str:
        """Where the trust store comes from, in words (for evidence)."""
        if self.profile is Profile.CLAUDE_CODE:
            extra = f" + NODE_EXTRA_CA_CERTS={self.node_extra_ca}" if self.node_extra_ca else ""
            system = " + the system's CAs (NODE_USE_SYSTEM_CA=1)" if self.node_use_system_ca else ""
            return "Node's bundled root CAs" + system + extra
        if self.ca_file:
            return f"SSL_CERT_FILE={self.ca_file}"
        if self.ca_dir:
            return f"SSL_CERT_DIR={self.ca_dir}"
        return "system CA bundle (the SDK's default)"

    def trust_context(self) -> ssl.SSLContext:
        """A verifying client context with the trust store the client of this profile would use.

        The Python SDK (httpx2/httpcore2) uses ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` instead of the system bundle;
        Node (Claude Code) ignores both and adds ``NODE_EXTRA_CA_CERTS`` to its roots.
        """
        if self.profile is Profile.CLAUDE_CODE:
            ctx = httpcore2.default_ssl_context(_trust_env=False)
            if self.node_use_system_ca:
                ctx.load_default_certs()
            if self.node_extra_ca:
                ctx.load_verify_locations(cafile=self.node_extra_ca)
            return ctx
        if self.ca_file:
            return ssl.create_default_context(cafile=self.ca_file)
        if self.ca_dir:
            return ssl.create_default_context(capath=self.ca_dir)
        return httpcore2.default_ssl_context(_trust_env=False)


def _choose_model(
    explicit: str | None, env: Mapping[str, str], view: ClaudeCodeView | None, timeout: float
) -> tuple[str, str]:
    """The model to check and where it came from: --model, ANTHROPIC_MODEL, then (Claude Code) its settings'
    ``model`` and its installed version's default; an alias pinned by ANTHROPIC_DEFAULT_<TIER>_MODEL is that model."""
    if explicit:
        return explicit, "--model"
    value = env.get("ANTHROPIC_MODEL", "").strip()
    source = "ANTHROPIC_MODEL"
    if value and view is not None and view.sources.get("ANTHROPIC_MODEL", "shell") != "shell":
        source = f"ANTHROPIC_MODEL from {view.sources['ANTHROPIC_MODEL']}"
    if view is None:
        return (value, source) if value else (DEFAULT_MODEL, "the doctor's default: your program names its own")
    if not value and view.model:
        value, source = view.model, f"model in {view.model_source}"
    if not value or value.lower() == "default":
        install = claude_code_version(env, Path(env.get("HOME") or Path.home()), timeout)
        why = (
            f"Claude Code {install.shown}'s default"
            if install.version
            else f"the newest Claude Code's default ({install.problem})"
        )
        return claude_code_default(install.version), (f"{source} = default: {why}" if value else why)
    pinned = alias_variable(value, env)
    if pinned is not None:
        return pinned[1], f"{source} = {value}, which {pinned[0]} sets"
    return value, source


def _gateway_of(view: ClaudeCodeView, base: str, base_source: str | None) -> tuple[str | None, str | None]:
    """(the gateway URL whose sign-in to check, where it came from) for Claude Code: its ``forceLoginGatewayUrl``,
    else a base URL that points at something other than Anthropic's API (a gateway, maybe one offering sign-in)."""
    if view.gateway_url:
        return view.gateway_url, f"forceLoginGatewayUrl in {view.gateway_url_source}"
    parts = split_url(base)
    if base_source is None or parts is None or parts[1] == "anthropic.com" or parts[1].endswith(".anthropic.com"):
        return None, None
    where = view.sources.get("ANTHROPIC_BASE_URL", "shell")
    if base_source == "ANTHROPIC_BASE_URL" and where != "shell":
        return base, f"ANTHROPIC_BASE_URL from {where}"
    return base, base_source


def split_url(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL; None when it has no usable scheme or host."""
    try:
        where = origin(url)
    except ValueError:
        return None
    return where.scheme, where.host, where.port
