"""The gateway's upstreams: ``[[upstreams]]`` in claudewire.toml (or ``--upstream URL``, repeatable), checked at start.

    [[upstreams]]
    name = "primary"                  # label in metrics, logs and /readyz: [a-z0-9_-]+
    url = "https://api.anthropic.com"
    keys = ["env:ANTHROPIC_API_KEY", "file:/run/secrets/key2"]   # literal, env:NAME, file:PATH or federation:
    priority = 0                      # lower is tried first; equal priorities share load by weight
    weight = 1
    models = []                       # if set, only these model ids are routed here
    kind = "anthropic"                # how requests are translated for this upstream (see KIND_OPTIONS)

Empty `keys` means the client's own credentials are forwarded to that upstream. ``federation:`` (with an
``[upstreams.federation]`` table) or ``federation:env`` is a workload identity federation credential: short-lived
tokens exchanged at the upstream's ``/v1/oauth/token`` (`claudewire.gateway.upstream.federation`).

A configuration that cannot work is refused with the field named (``upstreams[1].keys[0]: env:BACKUP_KEY is not
set``): duplicate names, a key reference that resolves to nothing, a bad URL, an unknown field, a model listed
elsewhere that no upstream serves.

Resolved keys live only in `UpstreamSpec.keys` (never in its repr); everything else names a key as ``name#index``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claudewire._net import origin
from claudewire.gateway.upstream.federation import FEDERATION_PREFIX, FederationSpec, federation_spec, placeholder

__all__ = [
    "KIND_OPTIONS",
    "UpstreamConfigError",
    "UpstreamSpec",
    "check_models_served",
    "name_for_url",
    "resolve_key",
    "specs_from_urls",
    "upstreams_from_list",
]

_NAME_RE = re.compile(r"[a-z0-9_-]+\Z")
_FIELDS = frozenset({"name", "url", "keys", "priority", "weight", "models", "kind"})

KIND_OPTIONS: dict[str, frozenset[str]] = {
    "anthropic": frozenset({"federation"}),  # workload identity federation (upstream.federation)
    # the cloud translators' own fields (upstream.kinds.KIND_FIELDS; checked there when the gateway starts)
    "bedrock": frozenset({"region", "anthropic_version", "betas", "beta_aliases", "model_map"}),
    "vertex": frozenset({"project", "region", "anthropic_version", "rejected_fields", "model_map", "credentials_file"}),
    "foundry": frozenset({"bearer", "model_map"}),
    "bedrock-mantle": frozenset({"region", "model_map"}),
}
"""Upstream kinds and the extra fields each accepts in its ``[[upstreams]]`` table (kept in `UpstreamSpec.options`).

``anthropic`` passes requests through unchanged (its one field: a workload identity ``federation`` table). Cloud
kinds (bedrock, vertex, foundry) register themselves here with their own fields (region, project, model_map ...): a
kind is a translator behind one interface."""


class UpstreamConfigError(ValueError):
    """An ``[[upstreams]]`` entry that cannot work; the message starts with the field (``upstreams[0].url``)."""


@dataclass(frozen=True, slots=True)
class UpstreamSpec:
    """One configured upstream: where it is, the keys the gateway holds for it, and how it is chosen.

    - `keys`: resolved key values, in the configured order (empty: forward the client's own credentials). They are
      left out of the repr; show a key as `key_label(index)`.
    - `priority`: lower is tried first; `weight`: share of the load among upstreams of the same priority.
    - `models`: when non-empty, only these model ids are routed here.
    - `kind` and `options`: the translator used for this upstream and its own settings.
    """

    name: str
    url: str
    keys: tuple[str, ...] = field(default=(), repr=False)
    priority: int = 0
    weight: float = 1.0
    models: tuple[str, ...] = ()
    kind: str = "anthropic"
    options: Mapping[str, Any] = field(default_factory=dict)

    def key_label(self, index: int) -> str:
        """How key number `index` is named in logs, metrics and /readyz: ``name#index``."""
        return f"{self.name}#{index}"

    @property
    def forwards_credentials(self) -> bool:
        """True when the gateway holds no key here and the client's own credentials go upstream (never for
        bedrock, bedrock-mantle and vertex: without keys they use the cloud's credential chain)."""
        return not self.keys and self.kind not in ("bedrock", "bedrock-mantle", "vertex")

    def serves(self, model: str | None) -> bool:
        """Whether a request for `model` may be routed here (a request without a model goes anywhere)."""
        return not self.models or model is None or model in self.models


def resolve_key(ref: str, where: str, env: Mapping[str, str] | None = None) -> str:
    """The key a reference stands for: ``env:NAME``, ``file:PATH`` (its first non-blank line) or the key itself.

    Raises `UpstreamConfigError` naming `where` when the reference resolves to nothing.
    """
    env = os.environ if env is None else env
    if not isinstance(ref, str):
        raise UpstreamConfigError(f"{where}: a key reference is a string (literal, env:NAME or file:PATH)")
    ref = ref.strip()
    if ref.startswith("env:"):
        name = ref[4:].strip()
        value = env.get(name, "").strip()
        if not name or not value:
            raise UpstreamConfigError(f"{where}: env:{name} is not set (or empty)")
        return value
    if ref.startswith("file:"):
        path = Path(ref[5:].strip()).expanduser()
        try:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        except OSError as exc:
            raise UpstreamConfigError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None
        value = next((line for line in lines if line and not line.startswith("#")), "")
        if not value:
            raise UpstreamConfigError(f"{where}: {path} holds no key")
        return value
    if not ref or any(c.isspace() for c in ref):
        raise UpstreamConfigError(f"{where}: empty or malformed key (use a literal key, env:NAME or file:PATH)")
    return ref


def _check_url(url: object, where: str) -> str:
    if not isinstance(url, str):
        raise UpstreamConfigError(f"{where}: url is required (an http:// or https:// base URL)")
    try:
        origin(url)
    except ValueError as exc:
        raise UpstreamConfigError(f"{where}: {exc}") from None
    return url


def _keys(
    refs: Sequence[object], table: object, kind: str, name: str, here: str, env: Mapping[str, str]
) -> tuple[tuple[str, ...], FederationSpec | None]:
    """The resolved keys, with the federation credential (if any) as its placeholder at its place."""
    keys: list[str] = []
    federation: FederationSpec | None = None
    for i, ref in enumerate(refs):
        where = f"{here}.keys[{i}]"
        if isinstance(ref, str) and ref.strip().startswith(FEDERATION_PREFIX):
            if kind != "anthropic":
                raise UpstreamConfigError(f"{where}: a federation credential is for anthropic upstreams only")
            if federation is not None:
                raise UpstreamConfigError(f"{where}: one federation credential per upstream")
            try:
                federation = federation_spec(ref.strip(), table, where, env)
            except ValueError as exc:
                raise UpstreamConfigError(str(exc)) from None
            keys.append(placeholder(name))
        else:
            keys.append(resolve_key(ref, where, env))  # type: ignore[arg-type]  # resolve_key checks the type
    if federation is None and table is not None:  # a table alone: the federation credential is the last key
        try:
            federation = federation_spec(FEDERATION_PREFIX, table, f"{here}.federation", env)
        except ValueError as exc:
            raise UpstreamConfigError(str(exc)) from None
        keys.append(placeholder(name))
    return tuple(keys), federation


def _one(raw: object, index: int, env: Mapping[str, str]) -> UpstreamSpec:
    here = f"upstreams[{index}]"
    if not isinstance(raw, Mapping):
        raise UpstreamConfigError(f"{here}: each [[upstreams]] entry is a table")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UpstreamConfigError(f"{here}.name: required, lowercase letters, digits, '_' and '-' only; got {name!r}")
    here = f"upstreams[{index}] ({name})"
    kind = raw.get("kind", "anthropic")
    if kind not in KIND_OPTIONS:
        raise UpstreamConfigError(f"{here}.kind: unknown kind {kind!r}; known: {', '.join(sorted(KIND_OPTIONS))}")
    unknown = set(raw) - _FIELDS - KIND_OPTIONS[kind]
    if unknown:
        known = sorted(_FIELDS | KIND_OPTIONS[kind])
        raise UpstreamConfigError(f"{here}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    url = _check_url(raw.get("url"), f"{here}.url")
    refs = raw.get("keys", [])
    if isinstance(refs, str) or not isinstance(refs, Sequence):
        raise UpstreamConfigError(f'{here}.keys: a list of key references, e.g. ["env:ANTHROPIC_API_KEY"]')
    keys, federation = _keys(refs, raw.get("federation"), kind, name, here, env)
    for i, key in enumerate(keys):
        if key in keys[:i]:
            raise UpstreamConfigError(f"{here}.keys[{i}]: the same key as keys[{keys.index(key)}]")
    priority = raw.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise UpstreamConfigError(f"{here}.priority: an integer (lower is tried first), got {priority!r}")
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight <= 0:
        raise UpstreamConfigError(f"{here}.weight: a number > 0, got {weight!r}")
    models = raw.get("models", [])
    if isinstance(models, str) or not isinstance(models, Sequence) or not all(isinstance(m, str) for m in models):
        raise UpstreamConfigError(f'{here}.models: a list of model ids, e.g. ["claude-sonnet-4-6"]')
    options = {k: raw[k] for k in KIND_OPTIONS[kind] if k in raw}
    if federation is not None:
        options["federation"] = federation
    return UpstreamSpec(name, url, keys, priority, float(weight), tuple(models), kind, options)


def upstreams_from_list(items: object, env: Mapping[str, str] | None = None) -> tuple[UpstreamSpec, ...]:
    """The ``[[upstreams]]`` array of tables, checked; raises `UpstreamConfigError` naming the field."""
    if not isinstance(items, list) or not items:
        raise UpstreamConfigError("upstreams: write each upstream as an [[upstreams]] table (at least one)")
    env = os.environ if env is None else env
    specs = tuple(_one(raw, i, env) for i, raw in enumerate(items))
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.name in seen:
            raise UpstreamConfigError(
                f"upstreams[{i}].name: {spec.name!r} is already the name of upstreams[{seen[spec.name]}]"
            )
        seen[spec.name] = i
    return specs


def name_for_url(url: str) -> str:
    """A label for an upstream given only by URL: its host (and port when not the default), as [a-z0-9_-]+."""
    try:
        host = origin(url).authority
    except ValueError:
        host = "upstream"
    return re.sub(r"[^a-z0-9_-]+", "-", host).strip("-") or "upstream"


def specs_from_urls(urls: Iterable[str], keys: tuple[str, ...] = ()) -> tuple[UpstreamSpec, ...]:
    """Upstreams given as URLs (``--upstream``, repeatable): each one priority lower than the one before.

    Every one gets `keys` (the gateway-held key in token mode; empty: forward the client's credentials). Names come
    from the host (`name_for_url`), made unique with ``-2``, ``-3`` ...
    """
    specs: list[UpstreamSpec] = []
    names: set[str] = set()
    for priority, url in enumerate(urls):
        _check_url(url, f"upstream {url!r}")
        base = name = name_for_url(url)
        n = 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        specs.append(UpstreamSpec(name, url, keys, priority))
    if not specs:
        raise UpstreamConfigError("upstream: at least one upstream URL is needed")
    return tuple(specs)


def check_models_served(specs: Sequence[UpstreamSpec], listed: Mapping[str, Iterable[str]]) -> None:
    """Refuse models named elsewhere in the configuration that no upstream would serve.

    `listed` maps a field (``clients[0].models``) to the model ids it names. An upstream without `models` serves
    every model, so the check only bites when every upstream restricts its models.
    """
    for where, models in listed.items():
        for model in models:
            if not any(spec.serves(model) for spec in specs):
                served = sorted({m for spec in specs for m in spec.models})
                raise UpstreamConfigError(
                    f"{where}: no upstream serves {model!r} (the upstreams' models are {', '.join(served)})"
                )
