"""Request validation and the answers of each endpoint, as the API gives them. Sans-IO: bodies in, bytes out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from claudewire.sim.catalogue import Catalogue, Lifecycle, SimModel
from claudewire.sim.config import ACCEPTED_VERSIONS, DEPRECATED_VERSIONS
from claudewire.sim.rules import check_model_rules
from claudewire.sim.shapes import count_input_tokens
from claudewire.sim.validation import BodyError, check_body

__all__ = ["ApiError", "check_version", "count_tokens", "get_model", "list_models", "parse_json", "validate_messages"]


class ApiError(Exception):
    """An answer in the Anthropic error shape: status, ``error.type`` and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def check_version(version: str | None) -> None:
    """Accept a served ``anthropic-version``; raise the API's 400 for a missing, deprecated or unknown one."""
    if version in ACCEPTED_VERSIONS:
        return
    if version is None or not version.strip():
        raise _invalid("anthropic-version: header is required")
    newest = max(ACCEPTED_VERSIONS)
    if version in DEPRECATED_VERSIONS:
        raise _invalid(f"anthropic-version: {version} is deprecated and no longer supported; use {newest}")
    raise _invalid(f'anthropic-version: "{version}" is not a valid version; use {newest}')


def parse_json(raw: bytes) -> Mapping[str, Any]:
    """The request body as a JSON object, or the API's 400."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        raise _invalid("There was an error parsing the body of your request: it is not valid JSON.") from None
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    return body


def _model(body: Mapping[str, Any], catalogue: Catalogue) -> SimModel:
    name = body.get("model")
    if name is None:
        raise _invalid("model: Field required")
    if not isinstance(name, str):
        raise _invalid("model: Input should be a valid string")
    model = catalogue.get(name)
    if model is None or catalogue.lifecycle(model) is Lifecycle.RETIRED:
        raise ApiError(404, "not_found_error", f"model: {name}")
    return model


def _body(
    body: Mapping[str, Any], max_tokens: int, betas: tuple[str, ...], model: SimModel, version: str | None
) -> None:
    try:
        check_body(body, max_tokens, betas)
        check_model_rules(body, model, version)
    except BodyError as exc:
        raise _invalid(str(exc)) from None


def validate_messages(
    body: Mapping[str, Any], catalogue: Catalogue, betas: tuple[str, ...] = (), version: str | None = None
) -> tuple[SimModel, int]:
    """Check a ``POST /v1/messages`` body as the API does; the model and the input tokens it costs.

    `betas` are the request's ``anthropic-beta`` values; `version` its ``anthropic-version`` (None for a cloud
    dialect, which carries its own): the model's rules and the version's apply (`claudewire.sim.rules`).
    """
    model = _model(body, catalogue)
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _invalid("max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _invalid("max_tokens: Input should be a valid integer greater than or equal to 1")
    if max_tokens > model.max_tokens:
        raise _invalid(
            f"max_tokens: {max_tokens} > {model.max_tokens}, which is the maximum allowed number of output tokens "
            f"for {model.id}"
        )
    _body(body, max_tokens, betas, model, version)
    tokens = count_input_tokens(body)
    if tokens > model.max_input_tokens:
        raise _invalid(f"prompt is too long: {tokens} tokens > {model.max_input_tokens} maximum")
    return model, tokens


def count_tokens(
    body: Mapping[str, Any], catalogue: Catalogue, betas: tuple[str, ...] = (), version: str | None = None
) -> bytes:
    """The answer of ``POST /v1/messages/count_tokens``: the same count a messages call reports as input_tokens."""
    model = _model(body, catalogue)
    _body(body, model.max_tokens, betas, model, version)
    return json.dumps({"input_tokens": count_input_tokens(body)}).encode()


def list_models(catalogue: Catalogue, query: Mapping[str, str]) -> bytes:
    """The answer of ``GET /v1/models``: one page, newest first, paged by ``after_id`` / ``before_id`` / ``limit``."""
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise _invalid("limit: Input should be a valid integer") from None
    if not 1 <= limit <= 1000:
        raise _invalid("limit: Input should be between 1 and 1000")
    models = list(catalogue.models)
    ids = [m.id for m in models]
    after, before = query.get("after_id"), query.get("before_id")
    if after is not None:
        if after not in ids:
            raise _invalid(f"after_id: unknown model {after}")
        page = models[ids.index(after) + 1 :]
        has_more = len(page) > limit
        page = page[:limit]
    elif before is not None:
        if before not in ids:
            raise _invalid(f"before_id: unknown model {before}")
        earlier = models[: ids.index(before)]
        page = earlier[-limit:]
        has_more = len(earlier) > limit
    else:
        page = models[:limit]
        has_more = len(models) > limit
    return json.dumps(
        {
            "data": [catalogue.info(m) for m in page],
            "has_more": has_more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
    ).encode()


def get_model(catalogue: Catalogue, model_id: str) -> bytes:
    """The answer of ``GET /v1/models/{id}`` (ids and aliases; retired models keep their record)."""
    model = catalogue.get(model_id)
    if model is None:
        raise ApiError(404, "not_found_error", f"model: {model_id}")
    return json.dumps(catalogue.info(model)).encode()
