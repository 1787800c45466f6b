"""HTTP for results: responses spliced from stored page JSON (no page is parsed and dumped again), content
negotiation and ETags, shared by both API faces.

A body is a list of parts: JSON bytes made here and payloads as stored (compressed). With
`Accept-Encoding: zstd` stored zstandard frames are sent untouched (a zstd stream may hold several
frames); with gzip the joined JSON is compressed once; otherwise it is sent as is.
"""

import gzip
import hashlib
import itertools
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator

import orjson
import zstandard
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotModified, StreamingHttpResponse

from .payloads import ZSTD_MAGIC, decompress

# gzip level 1 for every body: measured on the benchmark's pages (bench/mixed.py), level 1 costs a fifth to a
# third of the CPU of level 5 (2-D 200 x 200 page of 395 KB: 5-9 ms against 26-40 ms; 1-D page of 26 KB:
# 0.25 ms against 0.75 ms) for 1% (1-D) to 7% (2-D) more bytes. Completed results are immutable for their ETag,
# so their gzip bodies are also kept per process (GZIP_CACHE_BYTES in all, least recently used dropped first).
GZIP_LEVEL = 1
GZIP_CACHE_BYTES = 32 * 1024 * 1024
ZSTD_LEVEL = 1
MIN_COMPRESS_BYTES = 1024


class Stored(bytes):
    """A payload exactly as stored in a compressed_data column."""


Part = bytes | Stored


def estimator_parts(estimator: dict, page_blobs: list[bytes], *, envelope: dict | None = None) -> list[Part]:
    """`{**envelope, "name", "file_name", "metadata", "pages": [...]}` of one estimator, pages as stored."""
    head = orjson.dumps(envelope)[:-1] + b"," if envelope else b"{"
    head += b'"name":' + orjson.dumps(estimator["name"]) + b',"file_name":' + orjson.dumps(estimator["file_name"])
    parts: list[Part] = [head + b',"metadata":']
    metadata = estimator.get("compressed_data")
    parts.append(Stored(metadata) if metadata is not None else b"{}")
    parts.append(b',"pages":[')
    for index, blob in enumerate(page_blobs):
        if index:
            parts.append(b",")
        parts.append(Stored(blob))
    parts.append(b"]}")
    return parts


def results_parts(
    estimators: list[tuple[dict, list[bytes]]], *, envelope: dict | None = None, key: str = "estimators"
) -> list[Part]:
    """`{**envelope, key: [estimator, ...]}`, pages as stored: the envelope's keys (e.g. a "message") come first."""
    head = orjson.dumps(envelope)[:-1] + b"," if envelope else b"{"
    parts: list[Part] = [head + orjson.dumps(key) + b":["]
    for index, (estimator, blobs) in enumerate(estimators):
        if index:
            parts.append(b",")
        parts.extend(estimator_parts(estimator, blobs))
    parts.append(b"]}")
    return parts


def results_parts_stream(rows: Iterable[tuple]) -> Iterator[Part]:
    """The parts of results_parts (same bytes), from rows of (estimator id, name, file name, metadata blob, page
    blob or None) in order, made as the rows arrive."""
    yield b'{"estimators":['
    current = None
    first_page = True
    for estimator_id, name, file_name, metadata, blob in rows:
        if estimator_id != current:
            if current is not None:
                yield b"]},"
            yield b'{"name":' + orjson.dumps(name) + b',"file_name":' + orjson.dumps(file_name) + b',"metadata":'
            yield Stored(metadata) if metadata is not None else b"{}"
            yield b',"pages":['
            current, first_page = estimator_id, True
        if blob is not None:
            if not first_page:
                yield b","
            yield Stored(blob)
            first_page = False
    if current is not None:
        yield b"]}"
    yield b"]}"


def wrapped_parts(prefix: bytes, blob: bytes | None, suffix: bytes, empty: bytes = b"{}") -> list[Part]:
    """One stored payload between two pieces of JSON."""
    return [prefix, Stored(blob) if blob is not None else empty, suffix]


def _joined(parts: list[Part]) -> bytes:
    return b"".join(decompress(part) if isinstance(part, Stored) else part for part in parts)


def _zstd_frames(parts: list[Part]) -> bytes:
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    frames = []
    pending = []  # consecutive JSON pieces go into one frame
    for part in parts:
        if isinstance(part, Stored) and bytes(part[:4]) == ZSTD_MAGIC:
            if pending:
                frames.append(compressor.compress(b"".join(pending)))
                pending = []
            frames.append(bytes(part))
        else:
            pending.append(decompress(part) if isinstance(part, Stored) else part)
    if pending:
        frames.append(compressor.compress(b"".join(pending)))
    return b"".join(frames)


def accepted_encodings(header: str) -> dict[str, float]:
    """Content codings of an Accept-Encoding header with their q values."""
    accepted: dict[str, float] = {}
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        accepted[coding] = q
    return accepted


def _choose_encoding(request) -> str:
    accepted = accepted_encodings(request.META.get("HTTP_ACCEPT_ENCODING", ""))
    star = accepted.get("*", 0.0)
    best, best_q = "identity", 0.0
    for coding in ("zstd", "gzip"):
        q = accepted.get(coding, star)
        if q > best_q:
            best, best_q = coding, q
    return best


def etag_for(*parts: object) -> str:
    """A strong ETag of the identity representation named by `parts`."""
    return '"' + hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:32] + '"'


def _etag_matches(request, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")
    if not header:
        return False
    base = etag.strip('"')
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            return True
        tag = tag.removeprefix("W/").strip('"')
        if tag == base or tag.rsplit("-", 1)[0] == base:
            return True
    return False


def not_modified(request, etag: str | None) -> HttpResponse | None:
    """A 304 when the client already holds this representation."""
    if etag is None or not _etag_matches(request, etag):
        return None
    response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Vary"] = "Accept-Encoding, Cookie, Authorization"
    response["Cache-Control"] = "private, no-cache"
    return response


class _GzipCache:
    """gzip bodies by ETag, at most `limit` bytes in all, least recently used dropped first (thread-safe)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.bodies: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, etag: str) -> bytes | None:
        with self.lock:
            body = self.bodies.get(etag)
            if body is not None:
                self.bodies.move_to_end(etag)
            return body

    def clear(self) -> None:
        with self.lock:
            self.bodies.clear()
            self.size = 0

    def put(self, etag: str, body: bytes) -> None:
        if len(body) > self.limit // 4:
            return
        with self.lock:
            if etag in self.bodies:
                return
            self.bodies[etag] = body
            self.size += len(body)
            while self.size > self.limit:
                _, dropped = self.bodies.popitem(last=False)
                self.size -= len(dropped)


_gzip_cache = _GzipCache(GZIP_CACHE_BYTES)


def cached(request, etag: str | None) -> HttpResponse | None:
    """The gzip response kept for this ETag, when the client takes gzip (before reading any payload)."""
    if etag is None or _choose_encoding(request) != "gzip":
        return None
    body = _gzip_cache.get(etag)
    return _response(body, "gzip", etag, 200) if body is not None else None


def json_response(request, parts: list[Part], *, etag: str | None = None, status: int = 200) -> HttpResponse:
    """An application/json response of the parts, compressed as the client accepts."""
    encoding = _choose_encoding(request)
    body: bytes
    if encoding == "zstd":
        body = _zstd_frames(parts)
    else:
        body = _joined(parts)
        if encoding == "gzip" and len(body) >= MIN_COMPRESS_BYTES:
            body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            if etag is not None and status == 200:
                _gzip_cache.put(etag, body)
        else:
            encoding = "identity"
    return _response(body, encoding, etag, status)


def _response(body: bytes, encoding: str, etag: str | None, status: int) -> HttpResponse:
    return _with_headers(HttpResponse(body, content_type="application/json", status=status), encoding, etag)


def _with_headers(response, encoding: str, etag: str | None):
    """Content coding, caching and the ETag of the coding's representation, for whole and streamed bodies."""
    if encoding != "identity":
        response["Content-Encoding"] = encoding
    response["Vary"] = "Accept-Encoding, Cookie, Authorization"
    response["Cache-Control"] = "private, no-cache"
    if etag is not None:
        response["ETag"] = etag if encoding == "identity" else f'{etag[:-1]}-{encoding}"'
    return response


STREAM_CHUNK = 256 * 1024


def _coalesced(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Chunks of about STREAM_CHUNK bytes (not one write per comma)."""
    pending, size = [], 0
    for chunk in chunks:
        if chunk:
            pending.append(chunk)
            size += len(chunk)
        if size >= STREAM_CHUNK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _plain_stream(parts: Iterable[Part]) -> Iterator[bytes]:
    for part in parts:
        yield decompress(part) if isinstance(part, Stored) else part


def _gzip_stream(parts: Iterable[Part]) -> Iterator[bytes]:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for data in _plain_stream(parts):
        yield compressor.compress(data)
    yield compressor.flush()


def _zstd_stream(parts: Iterable[Part]) -> Iterator[bytes]:
    """Stored zstandard frames untouched; the JSON between them compressed into frames of its own."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    pending, size = [], 0
    for part in parts:
        if isinstance(part, Stored) and bytes(part[:4]) == ZSTD_MAGIC:
            if pending:
                yield compressor.compress(b"".join(pending))
                pending, size = [], 0
            yield bytes(part)
            continue
        data = decompress(part) if isinstance(part, Stored) else part
        pending.append(data)
        size += len(data)
        if size >= STREAM_CHUNK:
            yield compressor.compress(b"".join(pending))
            pending, size = [], 0
    if pending:
        yield compressor.compress(b"".join(pending))


def json_response_streamed(request, parts: Iterator[Part], *, etag: str | None = None) -> HttpResponse:
    """json_response of parts made as they are read: small bodies (up to RESULTS_STREAM_ABOVE_BYTES stored) are
    sent whole, larger ones streamed part by part in the encoding the client accepts, so a worker holds about one
    page at a time. The bytes (and ETags) are those json_response would send."""
    buffered, size = [], 0
    for part in parts:
        buffered.append(part)
        size += len(part)
        if size > settings.RESULTS_STREAM_ABOVE_BYTES:
            break
    else:
        return json_response(request, buffered, etag=etag)
    rest = itertools.chain(buffered, parts)
    encoding = _choose_encoding(request)
    streams = {"zstd": _zstd_stream, "gzip": _gzip_stream}
    body = _coalesced(streams.get(encoding, _plain_stream)(rest))
    return _with_headers(StreamingHttpResponse(body, content_type="application/json"), encoding, etag)
