"""Per-client limits in tokens mode: who presented which token, which models it may use, how much it may send.

A ``[[clients]]`` entry names a client, holds its token (or only the token's sha256, so the file keeps no secret,
or the name of an environment variable holding it) and optional limits::

    [[clients]]
    name = "ci-bot"
    token_sha256 = "9f86d0…"      # printf %s "$TOKEN" | sha256sum
    requests_per_minute = 30
    tokens_per_minute = 40000
    tokens_per_day = 2000000
    models = ["claude-haiku-4-5"]

A user signed in through the gateway (``[signin]``) is a client too: the token verifier names them with a `Member`,
a string that is their group's name (the metric label) carrying their own buckets (limits named per user, so each
member has the group's limits to themselves), the group's models and the key that marks their session revoked.

`ClientGate.check` runs before the call flow starts: a model outside ``models`` is a 403 ``permission_error``, a
limit used up a 429 ``rate_limit_error`` with ``retry-after`` and ``anthropic-ratelimit-*`` headers describing the
client's own bucket. Tokens are counted as Anthropic counts them against rate limits (input, cache writes and
output; cache reads are free): ``max_tokens`` plus an input estimate is reserved on the way in, and `settle` puts
the answer's ``usage`` in its place on the way out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from claudewire._errors import Failure, FailureKind
from claudewire.state import Admission, Bucket, ClientLimits, StateBackend, Ticket, rfc3339

__all__ = [
    "ClientGate",
    "ClientSpec",
    "Member",
    "MemberTicket",
    "Refusal",
    "Verdict",
    "check_unique",
    "clients_from_tables",
    "counted_tokens",
    "reservation",
    "token_digest",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
_KNOWN = frozenset(
    (
        "name",
        "token",
        "token_sha256",
        "token_env",
        "requests_per_minute",
        "tokens_per_minute",
        "tokens_per_day",
        "models",
    )
)
# header names per bucket: the API's own for requests and tokens, ours for the daily budget the API does not have
_HEADER_PREFIX = {
    Bucket.REQUESTS: b"anthropic-ratelimit-requests",
    Bucket.TOKENS: b"anthropic-ratelimit-tokens",
    Bucket.DAILY_TOKENS: b"x-claudewire-ratelimit-daily-tokens",
}
_WHAT = {
    Bucket.REQUESTS: "requests_per_minute",
    Bucket.TOKENS: "tokens_per_minute",
    Bucket.DAILY_TOKENS: "tokens_per_day",
}


def token_digest(token: str | bytes) -> bytes:
    """The sha256 of a client token: what the gateway keeps, and the key it looks a presented token up by.

    A dict keyed by the digest finds a token in constant time whatever the number of clients (100,000: 0.4 µs, as
    for one; docs/benchmarks.md), and leaks nothing a constant-time comparison would protect: the presented token is
    hashed first, so what the lookup's time could depend on (the hash slot, how many bytes of a stored key match) is
    a function of sha256(presented), which an attacker cannot steer toward a stored digest without inverting sha256,
    and learning how many leading bytes of a digest match tells nothing about the token's bytes. Timing therefore
    cannot guide a guess byte by byte, which is all that `hmac.compare_digest` on the raw token would prevent.
    """
    return hashlib.sha256(token.encode() if isinstance(token, str) else token).digest()


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One ``[[clients]]`` entry: its `name`, the sha256 of its token, its limits and allowed `models` (None: any)."""

    name: str
    token_sha256: bytes
    limits: ClientLimits
    models: frozenset[str] | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], env: Mapping[str, str]) -> ClientSpec:
        """Build from one TOML table; ValueError names what is wrong (never the token)."""
        unknown = data.keys() - _KNOWN
        name = data.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ValueError(
                f"client name {name!r} must be 1-64 letters, digits, '_', '.' or '-' (it is a metric label)"
            )
        if unknown:
            raise ValueError(f"client {name}: unknown setting(s) {', '.join(sorted(unknown))}")
        given = [k for k in ("token", "token_sha256", "token_env") if data.get(k) is not None]
        if len(given) != 1:
            raise ValueError(f"client {name}: set exactly one of token, token_sha256 or token_env")
        if given[0] == "token_sha256":
            hexed = str(data["token_sha256"]).strip().lower()
            if not _HEX_RE.match(hexed):
                raise ValueError(f"client {name}: token_sha256 must be 64 hex digits (printf %s TOKEN | sha256sum)")
            digest = bytes.fromhex(hexed)
        elif given[0] == "token_env":
            value = env.get(str(data["token_env"]), "").strip()
            if not value:
                raise ValueError(f"client {name}: environment variable {data['token_env']} is unset or empty")
            digest = token_digest(value)
        else:
            value = str(data["token"]).strip()
            if not value:
                raise ValueError(f"client {name}: token is empty")
            digest = token_digest(value)
        limits: dict[str, int] = {}
        for key in ("requests_per_minute", "tokens_per_minute", "tokens_per_day"):
            limit = data.get(key)
            if limit is None:
                continue
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise ValueError(f"client {name}: {key} must be a whole number >= 1, got {limit!r}")
            limits[key] = limit
        models = data.get("models")
        if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
            raise ValueError(f"client {name}: models must be a list of model ids")
        return cls(name, digest, ClientLimits(name, **limits), frozenset(models) if models is not None else None)


def clients_from_tables(tables: Iterable[Mapping[str, Any]], env: Mapping[str, str]) -> tuple[ClientSpec, ...]:
    """Every ``[[clients]]`` table as a `ClientSpec`, in order (linear: `env` is read, never copied, per entry);
    ValueError names the first bad entry (never its token)."""
    specs = []
    model_sets: dict[frozenset[str], frozenset[str]] = {}  # clients mostly share a few model lists: one set each
    for table in tables:
        spec = ClientSpec.from_mapping(table, env)
        if spec.models is not None:
            spec = dataclasses.replace(spec, models=model_sets.setdefault(spec.models, spec.models))
        specs.append(spec)
    return tuple(specs)


def check_unique(clients: Iterable[ClientSpec]) -> None:
    """ValueError naming the client names given twice (ten at most), or saying two clients share a token."""
    names: set[str] = set()
    digests: set[bytes] = set()
    twice: set[str] = set()
    shared_token = False
    for client in clients:
        if client.name in names:
            twice.add(client.name)
        if client.token_sha256 in digests:
            shared_token = True
        names.add(client.name)
        digests.add(client.token_sha256)
    if twice:
        shown = sorted(twice)
        more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
        raise ValueError(f"client names must be unique: {', '.join(shown[:10])}{more} given more than once")
    if shared_token:
        raise ValueError("two clients have the same token: give each client its own")


class Member(str):
    """A signed-in user as the gate sees them: the string is their group's name (the metric and log label; never their
    email or a token), `limits` their own buckets, `models` their group's (None: any), `revoked` the state key whose
    presence means their session was revoked."""

    limits: ClientLimits
    models: frozenset[str] | None
    revoked: str

    def __new__(cls, group: str, limits: ClientLimits, models: frozenset[str] | None, revoked: str) -> Member:
        member = super().__new__(cls, group)
        member.limits, member.models, member.revoked = limits, models, revoked
        return member


@dataclass(frozen=True, slots=True)
class MemberTicket(Ticket):
    """A member's reservation as the gateway sees it (`client`: the group, its label), `inner` the one counted in
    the member's own buckets, which `ClientGate.settle` corrects."""

    inner: Ticket | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the gateway answers itself: the failure and extra header lines (the client's bucket)."""

    failure: Failure
    headers: bytes = b""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `ClientGate.check` found: a `refusal` to answer, or a `ticket` to settle at the end (either may be None)."""

    refusal: Refusal | None = None
    ticket: Ticket | None = None

    @property
    def outcome(self) -> str:
        """The metric label: admitted, rate_limited, forbidden or invalid."""
        if self.refusal is None:
            return "admitted"
        kind = self.refusal.failure.kind
        return {FailureKind.RATE_LIMIT: "rate_limited", FailureKind.PERMISSION: "forbidden"}.get(kind, "invalid")


class _Usage(Protocol):
    input_tokens: int
    output_tokens: int
    cache_creation: int


def counted_tokens(usage: _Usage | None) -> int:
    """The tokens of an answer that count against a client's limits: input, cache writes and output."""
    if usage is None:
        return 0
    return usage.input_tokens + usage.cache_creation + usage.output_tokens


def reservation(body: dict[str, Any] | None, size: int) -> int:
    """Tokens to reserve for a Messages request: its ``max_tokens`` plus roughly one input token per 4 bytes."""
    if body is None:
        return 0
    max_tokens = body.get("max_tokens")
    out = max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0 else 0
    return out + size // 4


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # two "model" keys could mean one model to us and another to the upstream: refuse the ambiguity
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _models_named(route: str, body: dict[str, Any]) -> list[str]:
    if route == "batches":
        found = []
        for item in body.get("requests") or ():
            params = item.get("params") if isinstance(item, dict) else None
            model = params.get("model") if isinstance(params, dict) else None
            found.append(model if isinstance(model, str) else "")
        return found
    model = body.get("model")
    return [model] if isinstance(model, str) else []


class ClientGate:
    """Model checks and limits for the clients of one gateway, counted in `state`."""

    def __init__(
        self,
        clients: tuple[ClientSpec, ...],
        state: StateBackend,
        *,
        on_local: Callable[[], None] | None = None,
        groups: Iterable[str] = (),
    ) -> None:
        self.clients = {c.name: c for c in clients}
        for group in groups:  # signed-in users' groups: names the gate answers for (their specs come with them)
            self.clients.setdefault(group, ClientSpec(group, b"", ClientLimits(group)))
        self.state = state
        self.on_local = on_local  # told of each admission a shared store could not answer in time

    async def check(self, name: str, route: str, method: bytes, body: bytes) -> Verdict:
        """Whether client `name` may send this request; counts it when it may."""
        if isinstance(name, Member):
            if await self.state.kv_seen(name.revoked):
                msg = "this sign-in session was revoked: sign in again"
                return Verdict(Refusal(Failure.of(FailureKind.AUTH, message=msg)))
            spec: ClientSpec | None = ClientSpec(str(name), b"", name.limits, name.models)
        else:
            spec = self.clients.get(name)
        if spec is None or (spec.models is None and not spec.limits.counted):
            return Verdict()
        parsed: dict[str, Any] | None = None
        if method == b"POST" and route in ("messages", "count_tokens", "batches"):
            try:
                value = json.loads(body, object_pairs_hook=_no_duplicates)
            except (ValueError, UnicodeDecodeError) as exc:
                if spec.models is not None:  # the model cannot be checked: do not let it through
                    msg = f"the request body is not JSON the gateway can read: {exc}"
                    return Verdict(Refusal(Failure.of(FailureKind.INVALID_REQUEST, message=msg)))
            else:
                parsed = value if isinstance(value, dict) else None
            if parsed is None and spec.models is not None:
                bad = Failure.of(FailureKind.INVALID_REQUEST, message="the request body must be a JSON object")
                return Verdict(Refusal(bad))
        if spec.models is not None and parsed is not None:
            for model in _models_named(route, parsed):
                if model not in spec.models:
                    allowed = ", ".join(sorted(spec.models)) or "none"
                    member = isinstance(name, Member)
                    who = f"group {spec.name}" if member else f"client {spec.name}"
                    msg = f"{who} may not use model {model!r}; its models: {allowed}"
                    return Verdict(Refusal(_permission(msg, "its [[groups]] entry" if member else "")))
        if not spec.limits.counted:
            return Verdict()
        reserve = reservation(parsed, len(body)) if route == "messages" and parsed is not None else 0
        admission = await self.state.admit(spec.limits, reserve)
        if not admission.shared and self.on_local is not None and self.state.shared:
            self.on_local()
        if admission.allowed:
            ticket = admission.ticket
            if isinstance(name, Member) and ticket is not None:  # labelled by the group, counted in the member's
                ticket = MemberTicket(spec.name, ticket.reserved, ticket.minute, ticket.day, ticket.shared, ticket)
            return Verdict(ticket=ticket)
        return Verdict(Refusal(_rate_limited(spec, admission), _bucket_headers(admission)))

    def settle(self, ticket: Ticket, used: int) -> None:
        """Replace the reservation of `ticket` with the `used` tokens."""
        if isinstance(ticket, MemberTicket) and ticket.inner is not None:
            ticket = ticket.inner
        self.state.settle(ticket, used)


def _permission(message: str, entry: str = "") -> Failure:
    failure = Failure.of(FailureKind.PERMISSION, message=message)
    entry = entry or "its [[clients]] entry"
    return dataclasses.replace(
        failure,
        cause="This gateway client may not use that model (403 permission_error).",
        fix=f"Use one of the client's models, or ask the gateway's operator to add the model to {entry}.",
    )


def _rate_limited(spec: ClientSpec, admission: Admission) -> Failure:
    bucket = admission.refused_by or Bucket.REQUESTS
    limit = getattr(spec.limits, _WHAT[bucket])
    wait = admission.retry_after
    failure = Failure.of(
        FailureKind.RATE_LIMIT,
        retry_after=wait,
        retryable=bucket is not Bucket.DAILY_TOKENS,
        message=f"client {spec.name} is over its {_WHAT[bucket]} of {limit}; it resets in {math.ceil(wait)}s",
    )
    return dataclasses.replace(
        failure,
        cause="Rate limited by the gateway (429 rate_limit_error): this client used up its own limit.",
        fix="Wait for retry-after, send fewer or smaller requests (max_tokens is reserved up front), "
        "or ask the gateway's operator to raise the client's limit in its [[clients]] entry.",
    )


def _bucket_headers(admission: Admission) -> bytes:
    parts: list[bytes] = []
    for view in admission.buckets:
        prefix = _HEADER_PREFIX[view.bucket]
        parts.append(b"%b-limit: %d\r\n" % (prefix, view.limit))
        parts.append(b"%b-remaining: %d\r\n" % (prefix, view.remaining))
        parts.append(b"%b-reset: %b\r\n" % (prefix, rfc3339(view.reset).encode()))
    if admission.refused_by is Bucket.DAILY_TOKENS:
        parts.append(b"x-should-retry: false\r\n")
    return b"".join(parts)
