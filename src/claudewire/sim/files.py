"""The Files API in memory: upload (multipart), list, metadata, download and delete.

Sans-IO: request bytes and queries in, JSON (or the file's bytes) out, time from an injected clock. As in the API,
a file a client uploads is not downloadable (``downloadable: false``; its content answers 400): only files the
code execution tool or a skill creates are. `FileStore.add` stands in for those, so a test can exercise a download.
The store holds `limits.max_files` files of at most `limits.max_file_bytes` each and
`limits.max_file_storage_bytes` in all; past that an upload gets a 413 or 400 saying so.
"""

from __future__ import annotations

import functools
import itertools
import json
import mimetypes
import posixpath
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote

from claudewire.sim.config import StorageLimits
from claudewire.sim.endpoints import ApiError
from claudewire.sim.paging import page_of
from claudewire.sim.shapes import rfc3339

__all__ = ["FileStore", "FormPart", "StoredFile", "parse_form"]

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass(frozen=True, slots=True)
class FormPart:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _params(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for match in _PARAM.finditer(header):
        key, quoted, bare = match.group(1).lower(), match.group(2), match.group(3)
        value = quoted.replace('\\"', '"') if quoted is not None else (bare or "")
        if key.endswith("*"):  # RFC 5987: charset'lang'percent-encoded
            key, value = key[:-1], unquote(value.split("'", 2)[-1])
        out[key] = value
    return out


def parse_form(content_type: str, raw: bytes) -> dict[str, FormPart]:
    """The parts of a multipart/form-data body by field name, or the API's 400."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _invalid("Content-Type must be multipart/form-data with a `file` part")
    boundary = _params(content_type).get("boundary")
    if not boundary:
        raise _invalid("multipart/form-data body without a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + raw).split(delimiter)
    parts: dict[str, FormPart] = {}
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts  # the closing delimiter
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            break
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip().lower()] = value.strip()
        disposition = _params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name:
            parts[name] = FormPart(name, disposition.get("filename"), headers.get("content-type"), data)
    raise _invalid("malformed multipart/form-data body: it does not end with its closing boundary")


@dataclass(slots=True)
class StoredFile:
    """A file the store holds, with its metadata."""

    id: str
    filename: str
    mime_type: str
    content: bytes
    created: float  # wall-clock epoch
    downloadable: bool = False
    expires: float | None = None  # wall-clock epoch

    def metadata(self) -> dict[str, Any]:
        """The FileMetadata object as the API returns it."""
        return {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.content),
            "created_at": rfc3339(self.created),
            "downloadable": self.downloadable,
            "expires_at": rfc3339(self.expires) if self.expires is not None else None,
        }


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[FileStore, _P], _R]) -> Callable[Concatenate[FileStore, _P], _R]:
    """Run under the store's lock: the server's loop serves requests while a test's thread may `add` a file."""

    @functools.wraps(method)
    def locked(self: FileStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class FileStore:
    """Files held in memory, bounded by `limits`; expired files disappear when next looked at. Thread-safe."""

    def __init__(self, limits: StorageLimits, *, wall: Callable[[], float] = time.time) -> None:
        self._lock = threading.RLock()
        self.limits = limits
        self._wall = wall
        self._files: dict[str, StoredFile] = {}  # oldest first
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)

    @_locked
    def __len__(self) -> int:
        self._expire()
        return len(self._files)

    @_locked
    def add(
        self,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        *,
        downloadable: bool = True,
        expires_in: float | None = None,
    ) -> StoredFile:
        """Store a file (bounded like an upload); by default a downloadable one, as a tool would have created."""
        self._expire()
        if len(content) > self.limits.max_file_bytes:
            raise ApiError(
                413,
                "request_too_large",
                f"File too large: {len(content)} bytes > {self.limits.max_file_bytes}, the largest file the "
                "claudewire simulator stores (StorageLimits.max_file_bytes; the API takes up to 500 MB)",
            )
        if len(self._files) >= self.limits.max_files:
            raise _invalid(
                f"the claudewire simulator holds at most {self.limits.max_files} files (StorageLimits.max_files); "
                "delete some with DELETE /v1/files/{file_id}"
            )
        used = sum(len(f.content) for f in self._files.values())
        if used + len(content) > self.limits.max_file_storage_bytes:
            raise ApiError(
                413,
                "request_too_large",
                f"the claudewire simulator's file storage is full: {used} + {len(content)} bytes > "
                f"{self.limits.max_file_storage_bytes} (StorageLimits.max_file_storage_bytes); delete some files",
            )
        name = posixpath.basename(filename.replace("\\", "/")) or "upload"
        mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        now = self._wall()
        file_id = f"file_01Sim{self._prefix}{next(self._ids):012d}"
        stored = StoredFile(
            file_id, name, mime, content, now, downloadable, now + expires_in if expires_in is not None else None
        )
        self._files[file_id] = stored
        return stored

    # --- endpoints ------------------------------------------------------------------------------------------------

    def upload(self, content_type: str, raw: bytes) -> bytes:
        """``POST /v1/files``: the multipart body's ``file`` part stored (not downloadable); its metadata."""
        parts = parse_form(content_type, raw)
        part = parts.get("file")
        if part is None:
            raise _invalid("file: Field required")
        expires_in: float | None = None
        field = parts.get("expires_in_seconds")
        if field is not None:
            try:
                expires_in = int(field.data.decode())
            except (UnicodeDecodeError, ValueError):
                raise _invalid("expires_in_seconds: Input should be a valid integer") from None
            if expires_in < 1:
                raise _invalid("expires_in_seconds: Input should be greater than or equal to 1")
        mime = part.content_type
        if mime is None or mime == "application/octet-stream":
            mime = None  # guessed from the name, as the API does for a generic part
        stored = self.add(part.filename or "upload", part.data, mime, downloadable=False, expires_in=expires_in)
        return json.dumps(stored.metadata()).encode()

    @_locked
    def list_page(self, query: Mapping[str, str], ids: list[str]) -> bytes:
        """``GET /v1/files``: newest first, by ``limit`` and ``after_id`` / ``before_id`` / ``page``; or by `ids`."""
        self._expire()
        if ids:
            if len(set(ids)) > 100:
                raise _invalid("ids: at most 100 ids")
            wanted = set(ids)
            data = [f.metadata() for f in reversed(self._files.values()) if f.id in wanted]
            return self._page(data, False, None)
        if query.get("scope_id"):
            return self._page([], False, None)  # uploaded files belong to no session scope
        page = page_of(list(reversed(self._files)), query)
        return self._page([self._files[i].metadata() for i in page.ids], page.has_more, page.next_page)

    @_locked
    def metadata(self, file_id: str) -> bytes:
        """``GET /v1/files/{file_id}``."""
        return json.dumps(self._get(file_id).metadata()).encode()

    @_locked
    def content(self, file_id: str) -> StoredFile:
        """``GET /v1/files/{file_id}/content``: the file, if it is downloadable (else the API's 400)."""
        stored = self._get(file_id)
        if not stored.downloadable:
            raise _invalid(
                f"File {file_id} is not downloadable: only files created by skills or the code execution tool can "
                "be downloaded, not uploaded ones"
            )
        return stored

    @_locked
    def delete(self, file_id: str) -> bytes:
        """``DELETE /v1/files/{file_id}``."""
        self._get(file_id)
        del self._files[file_id]
        return json.dumps({"id": file_id, "type": "file_deleted"}).encode()

    # --- internals ------------------------------------------------------------------------------------------------

    def _get(self, file_id: str) -> StoredFile:
        self._expire()
        stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(404, "not_found_error", f"File not found: {file_id}")
        return stored

    def _expire(self) -> None:
        now = self._wall()
        for gone in [i for i, f in self._files.items() if f.expires is not None and f.expires <= now]:
            del self._files[gone]

    @staticmethod
    def _page(data: list[dict[str, Any]], has_more: bool, next_page: str | None) -> bytes:
        return json.dumps(
            {
                "data": data,
                "has_more": has_more,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "next_page": next_page,
            }
        ).encode()
