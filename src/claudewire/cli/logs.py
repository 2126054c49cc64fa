"""Logging set-up for the commands that run for a while (`proxy`, `sim`, `doctor`): the one place that adds handlers.

    @logs.options(default="INFO")            # --log-level and --log-format on a click command
    def proxy(..., log_level: str, log_format: str) -> None:
        logs.configure(log_level, log_format)
        logs.hide(*keys_and_tokens)              # what this run holds, scrubbed from every line as well

One handler on the root logger, writing to stderr: text (``time level logger: message``) or JSON lines (``time``,
``level``, ``logger``, ``message``, and ``request_id`` / ``exc`` when the record carries them). At INFO claudewire's
own loggers speak at INFO (retries, replica events) and every other library from WARNING (an HTTP client's INFO line
per request would drown them); DEBUG opens everything. Every line is redacted when it is formatted, whoever logged
it: API keys, ``Authorization``/``x-api-key`` values, URL passwords (`claudewire._secrets.redact_text`), and the
exact secrets this run holds (`hide`). Uncaught exceptions and Python warnings go through the same handler, so a
traceback carries a time and a logger name and is redacted too. The gateway's access log is not a log record: it
keeps its own stream (``--access-log``).
"""

from __future__ import annotations

import enum
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import IO, Any, TypeVar

import click

from claudewire._secrets import redact, redact_text

__all__ = ["LEVELS", "LogFormat", "Redactor", "configure", "hide", "options", "reset"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_OURS = "claudewire"


class LogFormat(enum.StrEnum):
    """How a log line is written on stderr."""

    TEXT = "text"
    JSON = "json"


class Redactor:
    """Scrubs a formatted line: key-looking strings and credential headers, and the exact `secrets` of this run."""

    def __init__(self) -> None:
        self.secrets: tuple[tuple[str, str], ...] = ()

    def add(self, secrets: Iterable[str | None]) -> None:
        """Scrub these too (each shown as ``…last4``); the longest first, so no secret's tail survives another's."""
        known = {s for s, _ in self.secrets}
        known.update(s.strip() for s in secrets if s and len(s.strip()) >= 6)
        self.secrets = tuple((s, redact(s)) for s in sorted(known, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret, shown in self.secrets:
            if secret in text:
                text = text.replace(secret, shown)
        return redact_text(text)


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class _TextFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        request_id = getattr(record, "request_id", None)
        if request_id:
            line += f" [request_id={request_id}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return self.redactor(line)


class _JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        # each field redacted before encoding: redacting the encoded line could cut a JSON escape in half
        scrub = self.redactor
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = scrub(str(request_id))
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes (a test runner may swap it, then close its own)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


_REDACTOR = Redactor()
_installed: list[Callable[[], None]] = []  # undo steps of the last `configure` (tests configure more than once)


def hide(*secrets: str | None) -> None:
    """Scrub these exact strings (keys, tokens this run holds) from every line from now on."""
    _REDACTOR.add(secrets)


def configure(level: str | int = "INFO", fmt: str = "text", *, stream: IO[str] | None = None) -> logging.Handler:
    """Send log records at `level` (claudewire's; other libraries' from WARNING at INFO) to `stream` (stderr) as
    `fmt` lines, redacted; route uncaught exceptions and warnings through it. Calling it again replaces the set-up."""
    reset()
    number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    formatter = _JsonFormatter(_REDACTOR) if LogFormat(fmt) is LogFormat.JSON else _TextFormatter(_REDACTOR)
    handler.setFormatter(formatter)
    root, ours = logging.getLogger(), logging.getLogger(_OURS)
    saved = (root.level, ours.level, sys.excepthook, threading.excepthook)
    root.addHandler(handler)
    root.setLevel(number if number != logging.INFO else logging.WARNING)
    ours.setLevel(number)
    logging.captureWarnings(True)
    log = logging.getLogger(_OURS)

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            saved[2](kind, exc, tb)
            return
        log.critical("unexpected error, exiting", exc_info=(kind, exc, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        log.error("unexpected error in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        sys.excepthook, threading.excepthook = saved[2], saved[3]
        logging.captureWarnings(False)

    _installed.append(undo)
    return handler


def reset() -> None:
    """Undo `configure` (the handler, levels and hooks it installed); the secrets to hide are kept."""
    while _installed:
        _installed.pop()()


F = TypeVar("F", bound=Callable[..., Any])


def options(*, default: str) -> Callable[[F], F]:
    """``--log-level`` (default `default`) and ``--log-format`` on a click command."""

    def decorate(command: F) -> F:
        command = click.option(
            "--log-format",
            type=click.Choice([f.value for f in LogFormat]),
            default=LogFormat.TEXT.value,
            show_default=True,
            help="Log lines on stderr as text or as JSON lines (time, level, logger, message, request_id).",
        )(command)
        return click.option(
            "--log-level",
            type=click.Choice(LEVELS, case_sensitive=False),
            default=default,
            show_default=True,
            help="The least severe log lines written to stderr (keys and tokens are always redacted).",
        )(command)

    return decorate
