"""`claudewire doctor --target KIND` / `--config gateway.toml`: the cloud doctor's command line.

The CLI may read the gateway's configuration (the doctor itself never imports the gateway): each ``[[upstreams]]``
entry is parsed by the gateway's own spec parsing and kinds (so its region, project, key and model ids are exactly
the ones the gateway would use) and handed to the doctor as a `CloudTarget`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

import click

from claudewire.doctor.cloud import DEFAULT_BETAS, cloud_target, run_cloud
from claudewire.doctor.cloud_checks import CloudReport, CloudTarget
from claudewire.doctor.cloud_render import render_cloud_json, render_cloud_text

__all__ = ["run_cloud_doctor"]

_MODEL = "claude-haiku-4-5"


def _model_id(kind: str, model: str, region: str | None, model_map: Mapping[str, str]) -> str:
    """The id the gateway would send for Anthropic model name `model` to an upstream of `kind`."""
    from claudewire.gateway.upstream.kinds.mantle import mantle_model_id
    from claudewire.gateway.upstream.kinds.models import bedrock_model_id, vertex_model_id

    if kind == "bedrock":
        return bedrock_model_id(model, region or "us-east-1", model_map)
    if kind == "bedrock-mantle":
        return mantle_model_id(model, model_map)
    if kind == "vertex":
        return vertex_model_id(model, model_map)
    return model_map.get(model, model)


def _from_config(path: str, model: str | None, betas: tuple[str, ...]) -> tuple[list[CloudTarget], list[str]]:
    """The cloud upstreams of a gateway config as targets, and a note for each upstream not checked here."""
    from claudewire.gateway.upstream.kinds import build_kind
    from claudewire.gateway.upstream.pool import Upstream
    from claudewire.gateway.upstream.specs import UpstreamConfigError, upstreams_from_list

    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        specs = upstreams_from_list(data.get("upstreams"))
    except (OSError, tomllib.TOMLDecodeError, UpstreamConfigError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--config") from None
    targets: list[CloudTarget] = []
    notes: list[str] = []
    for spec in specs:
        if spec.kind == "anthropic":
            notes.append(f"{spec.name}: an anthropic upstream: check it with `claudewire doctor --base-url {spec.url}`")
            continue
        try:
            kind = build_kind(spec, Upstream(spec.url))
        except UpstreamConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--config") from None
        region = getattr(kind, "region", None)
        project = getattr(kind, "project", None)
        model_map = spec.options.get("model_map") or {}
        held = bool(spec.keys) and not spec.keys[0].startswith("federation:")
        targets.append(
            CloudTarget(
                spec.kind,
                spec.name,
                spec.url,
                _model_id(spec.kind, model or _MODEL, region, model_map),
                region,
                f"upstreams ({spec.name})" if region else None,
                project,
                spec.keys[0] if held else None,
                f"upstreams ({spec.name}).keys[0]" if held else None,
                betas or DEFAULT_BETAS,
            )
        )
    return targets, notes


def run_cloud_doctor(
    *,
    target: str | None,
    config: str | None,
    region: str | None,
    project: str | None,
    base_url: str | None,
    api_key: str | None,
    model: str | None,
    betas: tuple[str, ...],
    timeout: float,
    as_json: bool,
) -> int:
    """Check the target (or every upstream of `config`), print the reports; the exit code (1: a check failed)."""
    notes: list[str] = []
    if config is not None:
        targets, notes = _from_config(config, model, betas)
    else:
        assert target is not None
        try:
            plain = cloud_target(target, region=region, project=project, base_url=base_url, api_key=api_key)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        chosen = _model_id(target, model, plain.region, {}) if model else plain.model
        targets = [
            cloud_target(
                target,
                region=region,
                project=project,
                base_url=base_url,
                api_key=api_key,
                model=chosen,
                betas=betas,
            )
        ]
    reports: list[CloudReport] = [run_cloud(t, timeout=timeout) for t in targets]
    if as_json:
        click.echo(render_cloud_json(reports))
    else:
        if reports:
            click.echo(render_cloud_text(reports), nl=False)
        for note in notes:
            click.echo(f"– {note}")
    return 1 if any(r.verdict.value == "fail" for r in reports) else 0
