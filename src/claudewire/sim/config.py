"""How a simulator instance is set up: address, TLS, faults, pacing, rate limits, keys and catalogue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from claudewire.sim.catalogue import DEFAULT_MODELS, SimModel
from claudewire.sim.faults import FaultSpec, profile_faults
from claudewire.sim.federation import SimFederation
from claudewire.sim.replies import ScriptedReply, check_replies

__all__ = ["ACCEPTED_VERSIONS", "APIS", "DEPRECATED_VERSIONS", "Pacing", "RateLimits", "SimConfig", "StorageLimits"]

APIS: tuple[str, ...] = ("anthropic", "bedrock", "vertex", "foundry", "bedrock-mantle")
"""The wire dialects the simulator speaks: the Anthropic API, or a cloud's surface for Anthropic models."""

ACCEPTED_VERSIONS: frozenset[str] = frozenset({"2023-06-01", "2026-10-21"})
"""``anthropic-version`` values the simulator serves."""

DEPRECATED_VERSIONS: frozenset[str] = frozenset({"2023-01-01"})
"""``anthropic-version`` values answered with 400 ``invalid_request_error`` naming a supported version."""


@dataclass(frozen=True, slots=True)
class Pacing:
    """Streaming tempo: seconds before the first event and between content deltas (0 and 0: as fast as possible)."""

    ttft: float = 0.0
    per_token: float = 0.0

    def __post_init__(self) -> None:
        if self.ttft < 0 or self.per_token < 0:
            raise ValueError("pacing delays must be >= 0")

    @classmethod
    def realistic(cls) -> Pacing:
        """Roughly what a fast model feels like: 0.4 s to the first token, then 50 tokens/s."""
        return cls(ttft=0.4, per_token=0.02)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-key buckets refilled continuously over a minute; the ``anthropic-ratelimit-*`` headers report them."""

    requests_per_minute: int = 4_000
    tokens_per_minute: int = 400_000

    def __post_init__(self) -> None:
        if self.requests_per_minute < 1 or self.tokens_per_minute < 1:
            raise ValueError("rate limits must be >= 1 per minute")


@dataclass(frozen=True, slots=True)
class StorageLimits:
    """What the in-memory Message Batches and Files stores hold at most; past a limit a request gets a clear 400/413.

    The API's own limits are far higher (100,000 requests a batch, 500 MB a file); the simulator keeps everything in
    memory, so it holds less and says so in its errors.
    """

    max_batches: int = 50
    max_batch_requests: int = 1_000
    max_files: int = 100
    max_file_bytes: int = 4 * 1024 * 1024
    max_file_storage_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"storage limit {name} must be >= 1")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a simulator instance needs; `faults` are added after those of `profile`.

    `api` picks the dialect (`APIS`). `region` is the one a Bedrock simulator wants requests signed for (default
    us-east-1) and the only location a Vertex one serves (default: any); with `aws_access_key_id` and
    `aws_secret_access_key` a Bedrock simulator verifies SigV4 signatures. `betas` replaces Bedrock's beta allowlist.
    `api_keys` empty means any non-empty key is accepted. `clock_skew` shifts the ``Date`` header of every answer
    (the ``skew`` fault does it for a share of them). `reply_tokens` is the length of the canned text reply.
    `today` is the day the models' lifecycles are judged on (None: the UTC date of each request), so a test can put
    the simulator either side of a retirement date. `replies` are scripted answers served in order to messages calls
    (see `claudewire.sim.replies`). `batch_delay` is how long a Message Batch stays ``in_progress`` (0: it ends as it
    is created); `storage` caps what the batch and file stores hold. `federation` adds ``POST /v1/oauth/token``
    trusting a test issuer and accepts the tokens it mints (`claudewire.sim.oauth`). In the cloud dialects,
    `expired_keys` (API keys, tokens or AWS access key ids) are answered as expired credentials, and
    `disabled_models` (catalogue names) as models the account has no access to, each in that cloud's words (what
    ``claudewire doctor --target`` meets).
    """

    host: str = "127.0.0.1"
    port: int = 8780
    tls: bool = False
    profile: str = "healthy"
    faults: tuple[FaultSpec, ...] = ()
    seed: int | None = None
    api_keys: tuple[str, ...] = ()
    pacing: Pacing = field(default_factory=Pacing)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    models: tuple[SimModel, ...] = DEFAULT_MODELS
    clock_skew: float = 0.0
    reply_tokens: int = 12
    request_log_size: int = 256
    api: str = "anthropic"
    region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    betas: frozenset[str] | None = None
    today: dt.date | None = None
    replies: tuple[ScriptedReply, ...] = ()
    batch_delay: float = 0.0
    storage: StorageLimits = field(default_factory=StorageLimits)
    federation: SimFederation | None = None
    expired_keys: tuple[str, ...] = ()
    disabled_models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # accept spec strings and lists too (``faults=["529:0.2"]``): stored as a tuple of FaultSpec
        specs = tuple(f if isinstance(f, FaultSpec) else FaultSpec.parse(f) for f in self.faults)
        object.__setattr__(self, "faults", specs)
        object.__setattr__(self, "api_keys", tuple(self.api_keys))
        object.__setattr__(self, "replies", check_replies(self.replies))
        if self.batch_delay < 0:
            raise ValueError("batch_delay must be >= 0")
        object.__setattr__(self, "expired_keys", tuple(self.expired_keys))
        object.__setattr__(self, "disabled_models", tuple(self.disabled_models))
        if self.api not in APIS:
            raise ValueError(f"unknown api {self.api!r}; the simulator speaks: {', '.join(APIS)}")
        if self.federation is not None and self.api != "anthropic":
            raise ValueError("workload identity federation (/v1/oauth/token) is served by the anthropic api only")
        if (self.aws_access_key_id is None) != (self.aws_secret_access_key is None):
            raise ValueError("give both aws_access_key_id and aws_secret_access_key, or neither")
        if self.betas is not None:
            object.__setattr__(self, "betas", frozenset(self.betas))
        profile_faults(self.profile)  # fail early, with the list of profiles, on a bad name
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is outside 0..65535")
        if self.reply_tokens < 1:
            raise ValueError("reply_tokens must be >= 1")
        if self.request_log_size < 0:
            raise ValueError("request_log_size must be >= 0")
        if any(not k for k in self.api_keys):
            raise ValueError("api_keys must not contain an empty key")
