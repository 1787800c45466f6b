import gzip
import json

import pytest
from django.db import connection

from simulations.models import CelerySimulation, Estimator, Input, Logfiles, Page
from simulations.payloads import GZIP_MAGIC, ZSTD_MAGIC, decode, decompress, encode
from simulations.services import job_id_new

pytestmark = pytest.mark.django_db

PAYLOAD = {"name": "Dose", "values": [0.1, 2.5e-7, 3.0], "nested": {"ünïcode": "żółw", "n": None, "ok": True}}


@pytest.fixture
def simulation(user):
    return CelerySimulation.objects.create(
        user=user, job_id=job_id_new("DIRECT"), sim_type="dummy", input_type="EDITOR"
    )


def payload_rows(simulation):
    estimator = Estimator.objects.create(simulation=simulation, name="z", file_name="z_")
    return [
        Input(simulation=simulation),
        Logfiles(simulation=simulation),
        Estimator(simulation=simulation, name="y", file_name="y_"),
        Page(estimator=estimator, page_number=0, page_dimension=1),
    ]


def raw_column(row) -> bytes | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT compressed_data FROM {row._meta.db_table} WHERE id = %s", [row.pk])
        value = cursor.fetchone()[0]
    return None if value is None else bytes(value)


def test_every_payload_model_round_trips_data_through_zstd(simulation):
    for row in payload_rows(simulation):
        row.data = PAYLOAD
        row.save()

        stored = raw_column(row)
        fresh = type(row).objects.get(pk=row.pk)

        assert stored.startswith(ZSTD_MAGIC), type(row)
        assert fresh.data == PAYLOAD, type(row)
        assert json.loads(fresh.raw_json) == PAYLOAD


def test_old_gzip_payload_stays_readable(simulation):
    old = {"input_type": "EDITOR", "number_of_all_primaries": 1000, "input_files": {}}
    row = Input.objects.create(simulation=simulation, compressed_data=gzip.compress(json.dumps(old).encode()))

    fresh = Input.objects.get(pk=row.pk)

    assert raw_column(row).startswith(GZIP_MAGIC)
    assert fresh.data == old
    assert json.loads(fresh.raw_json) == old


def test_gzip_payload_rewritten_is_stored_as_zstd(simulation):
    row = Logfiles.objects.create(simulation=simulation, compressed_data=gzip.compress(b'{"a.log": "x"}'))

    row.data = {**row.data, "b.log": "y"}
    row.save()

    assert raw_column(row).startswith(ZSTD_MAGIC)
    assert Logfiles.objects.get(pk=row.pk).data == {"a.log": "x", "b.log": "y"}


def test_none_stores_null_and_reads_none(simulation):
    for row in payload_rows(simulation):
        row.data = None
        row.save()

        assert raw_column(row) is None
        fresh = type(row).objects.get(pk=row.pk)
        assert fresh.data is None and fresh.raw_json is None


def test_a_row_made_without_data_reads_none(simulation):
    row = Input.objects.create(simulation=simulation)

    assert Input.objects.get(pk=row.pk).data is None


def test_raw_json_hands_out_the_stored_json_bytes_without_parsing(simulation):
    row = Input(simulation=simulation)
    row.data = PAYLOAD
    row.save()

    raw = Input.objects.get(pk=row.pk).raw_json

    assert isinstance(raw, bytes)
    assert raw == decompress(raw_column(row))
    assert json.loads(raw.decode("utf-8")) == PAYLOAD


def test_empty_containers_and_scalars_round_trip():
    for value in ({}, [], 0, "", "text", 1.5, False):
        assert decode(encode(value)) == value
    assert encode(None) is None and decode(None) is None


def test_codec_reads_memoryview_and_bytearray():
    blob = encode(PAYLOAD)

    assert decode(memoryview(blob)) == PAYLOAD
    assert decode(bytearray(blob)) == PAYLOAD


def test_unknown_bytes_are_refused():
    with pytest.raises(ValueError, match="neither zstandard nor gzip"):
        decode(b"not a payload")


def test_results_page_compresses_to_less_than_half_its_json():
    page = {"dimensions": 2, "data": {"values": [i * 0.00123 for i in range(32_000)]}}
    raw = json.dumps(page).encode()

    assert decode(encode(page)) == page
    assert len(encode(page)) < len(raw) / 2
