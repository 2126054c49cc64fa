"""claudewire: find out why a connection to the Claude API fails, and keep it working."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from claudewire._errors import Failure, FailureKind, classify
from claudewire._secrets import redact
from claudewire.policy import BreakerState, Hooks, Policy, PolicyEngine, RetryBudget

if TYPE_CHECKING:
    from claudewire._exceptions import CircuitOpenError, ClaudewireError, NotAnthropicResponseError
    from claudewire.client import Anthropic, AsyncAnthropic

__all__ = [
    "Anthropic",
    "AsyncAnthropic",
    "BreakerState",
    "CircuitOpenError",
    "ClaudewireError",
    "Failure",
    "FailureKind",
    "Hooks",
    "NotAnthropicResponseError",
    "Policy",
    "PolicyEngine",
    "RetryBudget",
    "classify",
    "redact",
]

# The official SDK costs about 0.9 s and 50 MiB to import. The names that need it load on first use, so the gateway,
# the simulator and `claudewire top` (which never touch the SDK) start fast and small.
_LAZY = {
    "Anthropic": "claudewire.client",
    "AsyncAnthropic": "claudewire.client",
    "CircuitOpenError": "claudewire._exceptions",
    "ClaudewireError": "claudewire._exceptions",
    "NotAnthropicResponseError": "claudewire._exceptions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'claudewire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
