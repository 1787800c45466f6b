"""Compressed JSON payloads: one codec and one model mixin for Input, Estimator, Page and Logfiles.

New rows are written as zstandard-compressed orjson; rows written by the old system (gzip) stay
readable. The codec is told apart by the frame's magic bytes, so no extra column is needed.
"""

import gzip
from typing import Any

import orjson
import zstandard
from django.conf import settings
from django.db import models

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compress_json(raw_json: bytes) -> bytes:
    """Compresses serialized JSON with the codec used for new rows."""
    return zstandard.ZstdCompressor(level=settings.PAYLOAD_ZSTD_LEVEL).compress(raw_json)


def decompress(blob: bytes) -> bytes:
    """Returns the JSON bytes of a stored payload, whichever codec wrote it."""
    blob = bytes(blob)
    if blob.startswith(ZSTD_MAGIC):
        return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
    if blob.startswith(GZIP_MAGIC):
        return gzip.decompress(blob)
    raise ValueError("payload is neither zstandard nor gzip")


def encode(data: Any) -> bytes | None:
    """Serializes and compresses `data`; None stores nothing."""
    if data is None:
        return None
    return compress_json(orjson.dumps(data))


def decode(blob: bytes | None) -> Any:
    """Decompresses and parses a stored payload; no payload reads as None."""
    if blob is None:
        return None
    return orjson.loads(decompress(blob))


class CompressedPayload(models.Model):
    """A JSON payload kept compressed in `compressed_data`; `data` reads and writes it as Python objects."""

    compressed_data = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def data(self) -> Any:
        return decode(self.compressed_data)

    @data.setter
    def data(self, value: Any) -> None:
        self.compressed_data = encode(value)

    @property
    def raw_json(self) -> bytes | None:
        """The payload's JSON bytes, without parsing them (for splicing into responses)."""
        return None if self.compressed_data is None else decompress(self.compressed_data)
