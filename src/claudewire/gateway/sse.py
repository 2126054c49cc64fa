"""The gateway's view of a Messages stream; the scanner lives in `claudewire._sse`, shared with the client."""

from claudewire._sse import StreamScanner, Usage, json_usage, request_model

__all__ = ["StreamScanner", "Usage", "json_usage", "request_model"]
