"""Limits on what a request may cost: admission (bounded concurrency), deadlines, API keys and
the streamed, size-checked upload reader.

Nothing here ever opens a path a request names: an upload is written to a file the server names
itself (``upload`` plus a suffix chosen from the content's magic bytes) inside a fresh private
temporary directory, which the caller removes.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

VIDEO_FIELD = "video"
MAX_FIELDS = 16  # multipart parts accepted in one request
MAX_FIELD_BYTES = 4096  # a non-file form field longer than this is refused
FORM_OVERHEAD = 256 * 1024  # multipart boundaries, part headers and small fields
SNIFF_BYTES = 16


class ApiError(Exception):
    """An error answered to the client with ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Cancelled(ApiError):
    """The client went away; the worker stops at the next frame."""

    def __init__(self) -> None:
        super().__init__(499, "request cancelled by the client")


@dataclass
class Deadline:
    """When a request must be finished. ``clock`` is injectable so tests need no sleeping."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(init=False)
    cancelled: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def remaining(self) -> float:
        return self.start + self.seconds - self.clock()

    def check(self, status: int = 504) -> None:
        """Raise when the client left or the time is up (``status`` 408 while uploading,
        504 while processing)."""
        if self.cancelled:
            raise Cancelled()
        if self.remaining() <= 0:
            what = "receiving the upload" if status == 408 else "processing the video"
            raise ApiError(
                status,
                f"request timed out after {self.seconds:g} s while {what}; send a shorter "
                "video or raise the server's --timeout",
            )


@dataclass(frozen=True)
class UploadPace:
    """How slowly an upload body may arrive before it is cut off with 408: a pause between two
    chunks longer than ``idle_s``, or, once ``grace_s`` have passed, an average rate below
    ``min_kbps`` kB/s (0 turns the rate check off). The request's deadline still applies."""

    idle_s: float = 15.0
    min_kbps: float = 16.0
    grace_s: float = 5.0

    def check(self, received: int, elapsed: float) -> None:
        if self.min_kbps <= 0 or elapsed <= self.grace_s:
            return
        kbps = received / 1024 / elapsed
        if kbps < self.min_kbps:
            raise ApiError(
                408,
                f"request timed out while receiving the upload: {kbps:.3g} kB/s after "
                f"{elapsed:.3g} s is below the server's minimum of {self.min_kbps:g} kB/s",
            )

    def idle_error(self) -> ApiError:
        return ApiError(
            408,
            f"request timed out while receiving the upload: no data for {self.idle_s:g} s",
        )


class Admission:
    """A counter of admitted requests (running + waiting) with a hard capacity.

    A request that finds every place taken is refused at once (503) instead of queueing in
    memory; places are freed only when the worker is really done with the request.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.active = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self.active >= self.capacity:
                return False
            self.active += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.active = max(0, self.active - 1)


def key_matches(given: str | bytes | None, expected: str | None) -> bool:
    """Constant-time API key check on UTF-8 bytes; no key configured means every request passes.

    ``given`` is the raw bytes the client sent, or an ``X-API-Key`` header value as Starlette
    hands it over: ASGI servers pass header bytes on and Starlette decodes them as Latin-1, so
    encoding back to Latin-1 gives the client's bytes, which must be the key's UTF-8 bytes (a
    non-ASCII key works as clients send it, UTF-8). Text from elsewhere (a JSON message) must
    be passed as ``text.encode("utf-8")``.
    """
    if expected is None:
        return True
    if given is None:
        return False
    if isinstance(given, str):
        try:
            given = given.encode("latin-1")
        except UnicodeEncodeError:  # not a header value: text already
            given = given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(given, expected.encode("utf-8"))


# -- content sniffing ---------------------------------------------------------------------------

_IMAGE_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")


def sniff_video(head: bytes) -> str | None:
    """The container suffix of a video from its first bytes, or ``None`` when the bytes are
    not a video container motionscope decodes."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        if head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
            return None  # AVIF / HEIC still images share the ISO container
        return ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".mkv"  # Matroska and WebM
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ".avi"
    if head.startswith(b"\x00\x00\x01\xba"):
        return ".mpg"
    if head.startswith(b"FLV"):
        return ".flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return ".wmv"
    if head.startswith(b"OggS"):
        return ".ogv"
    return None


# -- streamed multipart upload ------------------------------------------------------------------


@dataclass
class Upload:
    path: Path
    size: int
    fields: dict[str, str]


class _Form:
    """Callbacks of python-multipart's low-level parser: the ``video`` part goes straight to
    disk, byte-counted; other parts are kept as short text."""

    def __init__(self, target: Path, max_bytes: int) -> None:
        self.target = target
        self.max_bytes = max_bytes
        self.fh = None
        self.head = b""
        self.size = 0
        self.parts = 0
        self.fields: dict[str, str] = {}
        self.found_video = False
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._buf = bytearray()
        self.error: ApiError | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_cb,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _fail(self, error: ApiError) -> None:
        self.error = self.error or error
        raise error

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_FIELDS:
            self._fail(ApiError(413, f"too many form fields (more than {MAX_FIELDS})"))
        self._headers, self._name = {}, None
        self._buf = bytearray()

    def _header_field_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self._name = name
        if name != VIDEO_FIELD and b"filename" in params:
            self._fail(_wrong_field(name))
        if name == VIDEO_FIELD:
            if self.found_video:
                self._fail(ApiError(400, "send exactly one 'video' file per request"))
            self.found_video = True
            # the client's filename is ignored: the server names the file itself
            self.fh = open(self.target, "wb")  # noqa: SIM115 - closed in _part_end / close()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._name == VIDEO_FIELD and self.fh is not None:
            self.size += len(chunk)
            if self.size > self.max_bytes:
                self._fail(_too_large(self.max_bytes))
            if len(self.head) < SNIFF_BYTES:
                self.head += chunk[: SNIFF_BYTES - len(self.head)]
            self.fh.write(chunk)
        else:
            self._buf += chunk
            if len(self._buf) > MAX_FIELD_BYTES:
                self._fail(_wrong_field(self._name or "", long=True))

    def _part_end(self) -> None:
        if self._name == VIDEO_FIELD and self.fh is not None:
            self.fh.close()
            self.fh = None
        elif self._name:
            self.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _wrong_field(name: str, long: bool = False) -> ApiError:
    """400 for data sent under another field than ``video`` (the documented malformed form)."""
    what = (
        f"a form field {name!r} longer than {MAX_FIELD_BYTES} bytes"
        if long
        else (f"a file in the form field {name!r}")
    )
    return ApiError(
        400, f"no file field named 'video': got {what}; send the video as the file field 'video'"
    )


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413, f"upload too large: the limit is {max_bytes / 1024 / 1024:g} MB (--max-upload-mb)"
    )


def check_content_type(content_type: str | None) -> bytes:
    """The multipart boundary of a request, or 415 when it is not ``multipart/form-data``."""
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise ApiError(
            415,
            "send the video as multipart/form-data with a file field named 'video' "
            f"(got Content-Type {content_type or 'none'!r})",
        )
    return boundary


def check_content_length(value: str | None, max_bytes: int) -> None:
    if value is None:
        return
    try:
        length = int(value)
    except ValueError:
        raise ApiError(400, f"bad Content-Length header {value!r}") from None
    if length > max_bytes + FORM_OVERHEAD:
        raise _too_large(max_bytes)


async def receive_upload(
    request,
    folder: Path,
    *,
    max_bytes: int,
    deadline: Deadline,
    pace: UploadPace | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Upload:
    """Stream a multipart request body, writing the ``video`` part to ``folder`` and refusing
    it (413) as soon as it passes ``max_bytes``; 408 when the body arrives too slowly (past the
    deadline, or slower than ``pace``); 415 when the bytes are not a video container; 400 when
    there is no ``video`` part."""
    boundary = check_content_type(request.headers.get("content-type"))
    check_content_length(request.headers.get("content-length"), max_bytes)
    target = folder / "upload"
    form = _Form(target, max_bytes)
    parser = MultipartParser(boundary, form.callbacks())
    total = 0
    pace = pace or UploadPace()
    started = clock()
    stream = request.stream().__aiter__()
    try:
        while True:
            deadline.check(408)
            pace.check(total, clock() - started)
            wait_s = max(0.001, min(deadline.remaining(), pace.idle_s))
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), wait_s)
            except StopAsyncIteration:
                break
            except ClientDisconnect:
                raise Cancelled() from None
            except asyncio.TimeoutError:
                deadline.check(408)
                raise pace.idle_error() from None
            total += len(chunk)
            if total > max_bytes + FORM_OVERHEAD:
                raise _too_large(max_bytes)
            try:
                parser.write(chunk)
            except MultipartParseError as e:
                raise form.error or ApiError(400, f"malformed multipart body: {e}") from None
            except ApiError:
                raise form.error from None
        try:
            parser.finalize()
        except MultipartParseError as e:
            raise ApiError(400, f"malformed multipart body: {e}") from None
    finally:
        form.close()
    if not form.found_video:
        raise ApiError(400, "no file field named 'video' in the form")
    if form.size == 0:
        raise ApiError(422, "the uploaded video is empty (0 bytes)")
    suffix = sniff_video(form.head)
    if suffix is None:
        raise ApiError(
            415,
            "the upload is not a video motionscope can read (send .mp4, .mov, .webm, .mkv or .avi)",
        )
    path = target.with_suffix(suffix)
    target.rename(path)
    return Upload(path, form.size, form.fields)


def retry_after(mean_seconds: float | None, queued: int, workers: int, floor: int) -> int:
    """Seconds a refused client should wait: the time the queue ahead needs, at least
    ``floor``, at most a minute."""
    if not mean_seconds:
        return floor
    return int(min(60, max(floor, math.ceil(mean_seconds * max(1, queued) / max(1, workers)))))
