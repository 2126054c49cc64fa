"""claudewire: find out why a connection to the Claude API fails, and keep it working."""

from claudewire._errors import CircuitOpenError, ClaudewireError, Failure, FailureKind, classify
from claudewire._secrets import redact

__all__ = [
    "CircuitOpenError",
    "ClaudewireError",
    "Failure",
    "FailureKind",
    "classify",
    "redact",
]
