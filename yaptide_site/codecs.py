"""The `zjson` result serializer (orjson + zstandard) for Celery task results.

A task's estimators, e.g. a 2-D page of 32,000 floats, are stored in the result backend (the database) at a
fraction of their JSON size.
"""

import orjson
import zstandard
from kombu.serialization import register

ZJSON_CONTENT_TYPE = "application/x-yaptide-json+zstd"


def zjson_dumps(value) -> bytes:
    """orjson (numpy arrays and datetimes included) compressed with zstandard."""
    return zstandard.ZstdCompressor(level=3).compress(
        orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    )


def zjson_loads(blob: bytes):
    return orjson.loads(zstandard.ZstdDecompressor().decompressobj().decompress(bytes(blob)))


register("zjson", zjson_dumps, zjson_loads, content_type=ZJSON_CONTENT_TYPE, content_encoding="binary")
