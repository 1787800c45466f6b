"""Bad input is a 4xx JSON error naming the field, never a 500 (issue 14, point 6)."""

import orjson
import pytest

from .factories import editor_project

URL = "/api/simulations/"


def _nested(levels: int) -> dict:
    inner: dict = {"leaf": 1}
    for _ in range(levels):
        inner = {"child": inner}
    return inner


def _post_raw(client, url, body: bytes):
    return client.generic("POST", url, body, content_type="application/json")


@pytest.mark.parametrize("levels", [255, 600])
def test_input_json_nested_too_deep_is_400_naming_input_json(api_client, levels):
    project = editor_project()
    body = orjson.dumps({"sim_type": "dummy", "ntasks": 1, "input_type": "editor"})[:-1] + b',"input_json":'
    # orjson cannot write it either: splice the nesting in by hand.
    deep = b'{"child":' * levels + b"1" + b"}" * levels
    body += orjson.dumps(project)[:-1] + b',"deep2":' + deep + b"}}"

    response = _post_raw(api_client, URL, body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "input_json" in response.json()["errors"]
    assert "nested deeper" in response.json()["message"]


def test_moderately_nested_input_is_fine(api_client):
    project = editor_project()
    project["deep"] = _nested(150)
    response = api_client.post(
        URL, {"sim_type": "dummy", "ntasks": 1, "input_type": "editor", "input_json": project}, format="json"
    )
    assert response.status_code == 201, response.content
