"""Endpoint settings offer the provider's models (its /models) and presets for more providers:
the CLI's `model available`, the REST endpoint and the settings page's fragments, through real
HTTP to the fake server; a key from the server's environment never goes to a draft's URL."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from distillset.projects import PRESETS
from distillset.testing import FakeModelServer

Cli = Callable[..., Result]
HX = {"HX-Request": "true"}


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.mark.parametrize(
    ("preset", "base_url", "key_env"),
    [
        ("volcengine", "https://ark.cn-beijing.volces.com/api/v3", "ARK_API_KEY"),
        ("dashscope", "https://dashscope.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
        ("minimax", "https://api.minimax.io/v1", "MINIMAX_API_KEY"),
        ("302ai", "https://api.302.ai/v1", "AI302_API_KEY"),
    ],
)
def test_new_presets_fill_base_url_and_key_variable(
    cli: Cli, preset: str, base_url: str, key_env: str
) -> None:
    ok(cli("model", "add", "p", "--preset", preset, "--model", "m"))
    shown = json.loads(ok(cli("model", "show", "p", "--json")).stdout)
    assert (shown["base_url"], shown["api_key_env"], shown["preset"]) == (base_url, key_env, preset)
    assert PRESETS[preset].label  # the settings page names the provider


def test_model_available_lists_the_servers_models(cli: Cli, fake_server: FakeModelServer) -> None:
    ok(cli("model", "add", "fake", "--base-url", fake_server.url, "--model", "x"))
    assert ok(cli("model", "available", "fake")).stdout.split() == ["fake-model"]
    listed = json.loads(ok(cli("model", "available", "fake", "--json")).stdout)
    assert listed == {"alias": "fake", "models": ["fake-model"]}
    fake_server.configure(require_api_key="sk-right")
    refused = cli("model", "available", "fake")
    assert refused.exit_code != 0 and "HTTP 401" in refused.output
    assert "Traceback" not in refused.output


def test_rest_lists_an_endpoints_models(client: TestClient, fake_server: FakeModelServer) -> None:
    added = client.post(
        "/api/v1/endpoints", json={"alias": "fake", "base_url": fake_server.url, "model": "x"}
    )
    assert added.status_code == 201, added.text
    assert client.get("/api/v1/endpoints/fake/models").json() == {
        "alias": "fake",
        "models": ["fake-model"],
    }
    assert client.get("/api/v1/endpoints/nope/models").status_code == 404
    client.post(
        "/api/v1/endpoints",
        json={"alias": "gone", "base_url": f"http://127.0.0.1:{_closed_port()}/v1", "model": "x"},
    )
    unreachable = client.get("/api/v1/endpoints/gone/models")
    assert unreachable.status_code == 502 and "/models" in unreachable.json()["detail"]
    presets = client.get("/api/v1/endpoints/presets").json()
    assert presets["dashscope"]["label"] == "Alibaba Bailian (DashScope)"


def test_settings_page_offers_the_models_of_a_draft_and_of_an_endpoint(
    client: TestClient, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.post("/projects", data={"name": "Sports"})
    page = client.get("/projects/1/settings").text
    assert 'list="add-endpoint-model-list"' in page and "Volcengine Ark (Doubao)" in page
    draft = client.post(
        "/projects/1/provider-models", data={"base_url": fake_server.url}, headers=HX
    )
    assert draft.status_code == 200
    assert '<datalist id="add-endpoint-model-list"><option value="fake-model">' in draft.text
    assert "1 model offered" in draft.text

    # A draft sends only the key typed with it, never one of the server's environment.
    fake_server.configure(require_api_key="sk-right")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-right")
    refused = client.post(
        "/projects/1/provider-models", data={"base_url": fake_server.url}, headers=HX
    )
    assert refused.status_code == 502 and "HTTP 401" in refused.text
    typed = client.post(
        "/projects/1/provider-models",
        data={"base_url": fake_server.url, "api_key": "sk-right"},
        headers=HX,
    )
    assert typed.status_code == 200 and "fake-model" in typed.text
    assert "sk-right" not in refused.text

    # A registered endpoint is asked with its own key (here OPENAI_API_KEY, the default).
    client.post(
        "/projects/1/endpoints",
        data={"alias": "fake", "base_url": fake_server.url, "model": "x"},
        headers=HX,
    )
    listed = client.post(
        "/projects/1/provider-models/fake", data={"list_id": "model-list-1"}, headers=HX
    )
    assert (
        listed.status_code == 200
        and '<datalist id="model-list-1"><option value="fake-model">' in listed.text
    )
    bad_id = client.post(
        "/projects/1/provider-models/fake", data={"list_id": '"><script>'}, headers=HX
    )
    assert bad_id.status_code == 422
    no_url = client.post("/projects/1/provider-models", data={}, headers=HX)
    assert no_url.status_code == 422 and "base URL or a preset" in no_url.text


def test_python_api_lists_an_endpoints_models(settings: Any, fake_server: FakeModelServer) -> None:
    from distillset import api

    api.add_endpoint("fake", base_url=fake_server.url, model="x", settings=settings)
    assert api.available_models("fake", settings=settings) == ["fake-model"]
