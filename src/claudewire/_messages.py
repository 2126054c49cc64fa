"""Message families that name their cause in words: Claude Code's own lines, Bedrock, Vertex, OAuth, our gateway.

`explain` checks these before any status number or error body in the pasted text: Claude Code words a refused
connection as ``API Error: Unable to connect to API (ConnectionRefused)`` and a captive portal as ``API returned an
empty or malformed response (HTTP 200)``, and a cloud puts the cause in an exception name (``ThrottlingException``)
next to a generic 400. Each family maps to a kind of the one taxonomy (`claudewire._errors`) and may add a hint that
the kind's general fix cannot know (the environment variable Claude Code reads, the cloud console to open).

Texts are real: copied from Claude Code 2.1.197's messages (as `claude -p` prints them against the simulator's
faults), the Bedrock and Vertex error references, the API's OAuth and limit answers, the official SDK's workload
identity errors (``Token exchange failed (HTTP 401)``) and claudewire's gateway's own federation refusal.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from claudewire._errors import FailureKind

__all__ = ["FAMILIES", "GATEWAY_HINTS", "GATEWAY_MARKER", "WHO_ACTS", "Family", "Party"]

K = FailureKind

GATEWAY_MARKER = "claudewire gateway:"
"""How every error the claudewire gateway writes itself begins (`claudewire.gateway.downstream.errors`)."""


class Party(enum.StrEnum):
    """Who must act on an error the gateway wrote itself."""

    CALLER = "caller"  # the caller's own mistake: its base URL, path, body
    OPERATOR = "operator"  # a limit, token or allowlist of the gateway, or a bug of the gateway
    UPSTREAM = "upstream"  # the upstream behind the gateway failed: its operator looks at that upstream


WHO_ACTS: dict[Party, str] = {
    Party.CALLER: "Who acts: the caller.",
    Party.OPERATOR: "Who acts: the gateway's operator.",
    Party.UPSTREAM: "Who acts: the gateway's operator, for",  # ... "upstream `name`; nothing on the caller's side."
}
"""How a gateway-written error names its party, after its cause and before ``Fix:`` (`explain` reads it back)."""

_CC_CERT_HINT = (
    "Claude Code is Node: it ignores SSL_CERT_FILE; set NODE_EXTRA_CA_CERTS=/path/to/ca.pem or NODE_USE_SYSTEM_CA=1 "
    "(`claudewire doctor --profile claude-code --save-ca ca.pem` writes the CA it saw)."
)
_CC_TIMEOUT_HINT = (
    "Claude Code waits API_TIMEOUT_MS milliseconds (default 600000) for an answer: raise it (export "
    "API_TIMEOUT_MS=900000) only if the model is slow; if nothing arrives at all, a proxy holds the stream."
)
_CC_STALL_HINT = (
    "Claude Code's stream watchdog gave up on a stream that stopped sending: a proxy that buffers or idles out "
    "streams is the usual cause (`claudewire doctor` times the events); API_TIMEOUT_MS does not change it."
)
_OAUTH_HINT = (
    "A claude.ai sign-in (OAuth, sk-ant-oat…) works only in Claude Code: run `claude /login` again there; for the "
    "SDK or another tool use an API key (ANTHROPIC_API_KEY) from the Console."
)
_BETA_HINT = (
    "The cloud rejects an anthropic-beta value or a field it does not support yet: drop it; for Claude Code set "
    "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1."
)


@dataclass(frozen=True, slots=True)
class Family:
    """A message family: its pattern, the kind it is, and a hint appended to the kind's fix ("" for none)."""

    pattern: re.Pattern[str]
    kind: FailureKind
    hint: str = ""


def _f(pattern: str, kind: FailureKind, hint: str = "") -> Family:
    return Family(re.compile(pattern, re.IGNORECASE), kind, hint)


FAMILIES: tuple[Family, ...] = (
    # --- Claude Code (its own wording, before any status in the line) ---
    _f(
        r"Unable to connect to API:? .{0,20}(SSL certificate|Self-signed certificate|SSL error)",
        K.CERTIFICATE,
        _CC_CERT_HINT,
    ),
    _f(r"Unable to connect to API \(ConnectionRefused\)|\bConnectionRefused\b", K.CONNECT_REFUSED),
    _f(
        r"Unable to connect to API \(FailedToOpenSocket\)|\bFailedToOpenSocket\b",
        K.DNS,
        "Claude Code (Bun) says FailedToOpenSocket when the host name does not resolve or cannot be reached: "
        "check ANTHROPIC_BASE_URL's host.",
    ),
    _f(
        r"Unable to connect to API \((ConnectionClosed|ECONNRESET|UND_ERR_SOCKET)\)|socket connection was closed "
        r"unexpectedly|Connection to the API was lost",
        K.CONNECTION_RESET,
    ),
    _f(r"Unable to connect to API \((ETIMEDOUT|ConnectionTimeout|UND_ERR_CONNECT_TIMEOUT)\)", K.CONNECT_TIMEOUT),
    _f(
        r"API returned an empty or malformed response",
        K.NOT_ANTHROPIC,
        "Claude Code got a 200 that is not the API's JSON: a portal, a proxy's page or a wrong ANTHROPIC_BASE_URL.",
    ),
    _f(
        r"There's an issue with the selected model|may not exist or you may not have access to it|"
        r"is not available on your .{0,40}deployment",
        K.NOT_FOUND,
        "In Claude Code pick another with /model or ANTHROPIC_MODEL.",
    ),
    _f(
        r"Stream idle timeout|stream watchdog did not recover|Agent stalled: no progress",
        K.STREAM_INTERRUPTED,
        _CC_STALL_HINT,
    ),
    _f(
        r"API_TIMEOUT_MS|Request timed out\. Check your internet connection and proxy settings",
        K.READ_TIMEOUT,
        _CC_TIMEOUT_HINT,
    ),
    _f(
        r"Repeated 529 Overloaded errors|is experiencing high load, please use /model",
        K.OVERLOADED,
        "Claude Code suggests /model to switch to a less loaded model meanwhile.",
    ),
    _f(
        r"Not logged in · Please run /login|OAuth token revoked",
        K.AUTH,
        "Run `claude /login`, or give Claude Code an API key (ANTHROPIC_API_KEY, or apiKeyHelper in settings).",
    ),
    _f(
        r"Invalid API key · Fix external API key|ANTHROPIC_API_KEY belongs to a disabled organization",
        K.AUTH,
        "Claude Code uses ANTHROPIC_API_KEY (or its settings' env / apiKeyHelper) before your sign-in: fix or unset "
        "it (`claudewire doctor --profile claude-code` shows where it came from).",
    ),
    # --- OAuth tokens used where they do not belong, or without the scope ---
    _f(r"OAuth token does not meet scope requirement|insufficient[_ ]scope", K.PERMISSION, _OAUTH_HINT),
    _f(
        r"OAuth authentication is currently not supported|only authorized for use with Claude Code", K.AUTH, _OAUTH_HINT
    ),
    _f(
        r"OAuth token has expired",
        K.AUTH,
        "An expired sign-in refreshes by itself while the refresh token is valid: run `claude /login` if it does not.",
    ),
    # --- account limits, plans and the newest models' rules ---
    _f(
        r"You have reached your specified API usage limits",
        K.SPEND_LIMIT,
        "This is the spend limit your organization set itself (a 400, not the 429 cap): raise or remove it in the "
        "Console under Settings > Limits, or wait for the date the message names.",
    ),
    _f(
        r"Third-party apps now draw from your extra usage",
        K.BILLING,
        "A Claude plan used through a third-party app now spends extra usage: turn extra usage on (or add to it) "
        "in claude.ai Settings > Usage, or give the app a Console API key instead of the plan sign-in.",
    ),
    _f(
        r"thinking\.type\.enabled\W{0,3} is not supported for this model",
        K.INVALID_REQUEST,
        'This model thinks adaptively only: send thinking: {"type": "adaptive"} and set the depth with '
        'output_config: {"effort": ...} instead of budget_tokens (update the SDK or tool that sends "enabled").',
    ),
    # --- workload identity federation (POST /v1/oauth/token) ---
    _f(
        r"Token exchange failed|federation exchange was refused|does not match a federation rule|"
        r"WorkloadIdentityError.{0,80}(401|403|invalid_grant)",
        K.AUTH,
        "The identity token was refused by the federation rule: compare its claims (iss, aud, sub: `cut -d. -f2 "
        "$ANTHROPIC_IDENTITY_TOKEN_FILE | base64 -d`) with the rule, check federation_rule_id, organization_id and "
        "service_account_id, and read the authentication events on the Console's Workload identity page.",
    ),
    _f(
        r"Identity token assertion is \d+ bytes|does not hold a JWT",
        K.AUTH,
        "The identity token file is not a JWT: point ANTHROPIC_IDENTITY_TOKEN_FILE (identity_token_file) at the "
        "projected token, not at a key or certificate.",
    ),
    # --- Amazon Bedrock and Claude in Amazon Bedrock (Mantle) ---
    _f(r"invalid beta flag", K.INVALID_REQUEST, _BETA_HINT),
    _f(
        r"not authorized to perform the required AWS Marketplace actions",
        K.PERMISSION,
        "Model access on Bedrock goes through an AWS Marketplace subscription: allow aws-marketplace:Subscribe and "
        "aws-marketplace:ViewSubscriptions to the identity (once per account), then enable the model under Bedrock "
        "> Model access.",
    ),
    _f(
        r"is not authorized to perform: bedrock(-mantle)?:",
        K.PERMISSION,
        "The IAM identity lacks the action the message names: allow it (and the model's resource) in its policy.",
    ),
    _f(
        r"with on-demand throughput isn.t supported",
        K.INVALID_REQUEST,
        "This model is served on Bedrock through an inference profile only: use its id, e.g. "
        "us.anthropic.claude-... (or global.anthropic.claude-...), instead of the bare anthropic.claude-... id.",
    ),
    _f(
        r"ThrottlingException|ServiceQuotaExceededException|Too many tokens, please wait|"
        r"Too many requests, please wait before trying again",
        K.RATE_LIMIT,
        "Bedrock's per-model quota (Service Quotas: on-demand requests/tokens per minute) is used up: ask for more, "
        "or use a cross-region inference profile.",
    ),
    _f(
        r"AccessDeniedException|don't have access to the model with the specified model ID",
        K.PERMISSION,
        "Enable the model under Bedrock > Model access in that region, and allow bedrock:InvokeModel and "
        "bedrock:InvokeModelWithResponseStream to the IAM identity.",
    ),
    _f(
        r"UnrecognizedClientException|ExpiredTokenException|security token included in the request is "
        r"(invalid|expired)",
        K.AUTH,
        "The AWS credentials are wrong or expired: refresh them (aws sso login, AWS_PROFILE) and check AWS_REGION.",
    ),
    _f(r"ModelStreamErrorException", K.STREAM_INTERRUPTED, "Bedrock ended the stream with an error: retry."),
    _f(r"ModelNotReadyException|ServiceUnavailableException", K.SERVER, "Bedrock is not ready to serve: retry."),
    _f(
        r"provided model identifier is invalid|ResourceNotFoundException",
        K.NOT_FOUND,
        "Bedrock model ids look like anthropic.claude-sonnet-4-6 or us.anthropic.claude-...: check the id and region.",
    ),
    _f(r"ValidationException", K.INVALID_REQUEST, "Bedrock rejected the request body: read the message."),
    # --- Google Vertex AI ---
    _f(r"Extra inputs are not permitted", K.INVALID_REQUEST, _BETA_HINT),
    _f(
        r"RESOURCE_EXHAUSTED|Quota exceeded for aiplatform",
        K.RATE_LIMIT,
        "Vertex AI's quota for this model and region is used up: request more under IAM & Admin > Quotas, or use "
        "another region.",
    ),
    _f(
        r"PERMISSION_DENIED|Permission '?aiplatform\.",
        K.PERMISSION,
        "Grant roles/aiplatform.user on the project and enable the model in Vertex AI's Model Garden.",
    ),
    _f(
        r"Publisher model .{0,120} (was not found|does not have access)",
        K.NOT_FOUND,
        "Check the model id and that the region serves it (CLOUD_ML_REGION / VERTEX_REGION_*).",
    ),
    _f(
        r"UNAUTHENTICATED|Request had invalid authentication credentials",
        K.AUTH,
        "Refresh Google credentials: gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS.",
    ),
)
"""Families in the order they are tried: the first that matches names the kind."""

GATEWAY_HINTS: dict[FailureKind, str] = {
    K.CIRCUIT_OPEN: (
        "This is claudewire's gateway, not Anthropic: its breaker opened because the upstream behind it kept "
        "failing, so it answers at once without sending. Look at the gateway's /readyz (curl -s "
        "http://GATEWAY/readyz) and its access log for the upstream's errors, and run `claudewire doctor` against the "
        "upstream from the gateway's host; requests flow again after the cooldown."
    ),
}
"""Extra words for errors the gateway writes itself (its own `error_answer`); other kinds get a generic note."""
