"""Over HTTP, a caller may not make the server send one of its secrets to a URL they choose:
keys come from the keys file or API-key-like variables, and a keys-file key goes to a new
base URL only when entered again. The CLI (the machine's owner) keeps the wider rule."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from distillset.config import Settings
from distillset.projects.keys import read_key, set_key
from distillset.testing import FakeModelServer

API = "/api/v1"


def _endpoint(fake_server: FakeModelServer, alias: str, **fields: Any) -> dict[str, Any]:
    return {"alias": alias, "base_url": fake_server.url, "model": "fake-model", **fields}


def _key_reached(fake_server: FakeModelServer) -> bool:
    """Whether a request with the key the server requires reached it (it answers 200)."""
    return fake_server.stats().by_status.get(200, 0) > 0


@pytest.mark.parametrize("variable", ["OTHER_SECRET", "DISTILLSET_TOKEN", "DISTILLSET_API_KEY"])
def test_the_rest_api_cannot_send_any_server_variable_to_an_endpoint(
    client: TestClient,
    fake_server: FakeModelServer,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    secret = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv(variable, secret)
    fake_server.configure(require_api_key=secret)
    created = client.post(
        f"{API}/endpoints", json=_endpoint(fake_server, "x", api_key_env=variable)
    )
    assert created.status_code == 422, created.text
    assert "_API_KEY, _KEY or _TOKEN" in created.json()["detail"]
    assert secret not in created.text
    # Nor by changing an existing endpoint's variable.
    plain = client.post(f"{API}/endpoints", json=_endpoint(fake_server, "plain"))
    assert plain.status_code == 201, plain.text
    changed = client.patch(f"{API}/endpoints/plain", json={"api_key_env": variable})
    assert changed.status_code == 422, changed.text
    client.post(f"{API}/endpoints/plain/test")
    assert not _key_reached(fake_server)
    assert fake_server.stats().by_status.get(401, 0) >= 1  # the test ran, keyless


def test_an_api_key_variable_is_allowed_over_the_rest_api(
    client: TestClient, fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("FAKE_API_KEY", secret)
    fake_server.configure(require_api_key=secret)
    body = _endpoint(fake_server, "ok", api_key_env="FAKE_API_KEY")
    assert client.post(f"{API}/endpoints", json=body).status_code == 201
    tested = client.post(f"{API}/endpoints/ok/test").json()
    assert tested["ok"] is True, tested
    assert secret not in str(tested)


def test_a_keys_file_key_goes_to_a_new_base_url_only_when_entered_again(
    client: TestClient,
    settings: Settings,
    fake_server: FakeModelServer,
    cli: Callable[..., Result],
) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    set_key(settings, "main", secret)
    fake_server.configure(require_api_key=secret)
    # The owner uses key "main" with another server.
    elsewhere = ("--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--key-name", "main")
    assert cli("model", "add", "home", *elsewhere).exit_code == 0

    stolen = client.post(f"{API}/endpoints", json=_endpoint(fake_server, "x", api_key_name="main"))
    assert stolen.status_code == 422, stolen.text
    assert "enter the key again" in stolen.json()["detail"]
    moved = client.patch(f"{API}/endpoints/home", json={"base_url": fake_server.url})
    assert moved.status_code == 422, moved.text
    guessed = client.patch(
        f"{API}/endpoints/home", json={"base_url": fake_server.url, "api_key": "sk-guess"}
    )
    assert guessed.status_code == 422 and secret not in guessed.text
    client.post(f"{API}/endpoints/home/test")
    assert not _key_reached(fake_server)

    # Entered again, the key may go there; the endpoint already using it there may change.
    entered = client.patch(
        f"{API}/endpoints/home", json={"base_url": fake_server.url, "api_key": secret}
    )
    assert entered.status_code == 200, entered.text
    assert secret not in entered.text
    assert client.post(f"{API}/endpoints/home/test").json()["ok"] is True
    same_place = _endpoint(fake_server, "twin", api_key_name="main")
    assert client.post(f"{API}/endpoints", json=same_place).status_code == 201
    assert client.patch(f"{API}/endpoints/home", json={"temperature": 0.3}).status_code == 200


def test_the_cli_keeps_the_wider_rule(
    cli: Callable[..., Result], fake_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTHER_SECRET", "s3cret-value-1")
    base = ("--base-url", fake_server.url, "--model", "m")
    assert cli("model", "add", "mine", *base, "--api-key-env", "OTHER_SECRET").exit_code == 0


def test_the_settings_page_takes_a_key_entered_with_a_new_endpoint(
    client: TestClient, settings: Settings, fake_server: FakeModelServer
) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    fake_server.configure(require_api_key=secret)
    project = client.post(f"{API}/projects", json={"name": "P"}).json()
    form = {**_endpoint(fake_server, "web", api_key_name="fresh"), "api_key": secret}
    page = client.post(f"/projects/{project['id']}/endpoints", data=form)
    assert page.status_code == 200 and "Endpoint web added" in page.text, page.text[-500:]
    assert secret not in page.text
    assert read_key(settings, "fresh") == secret
    assert client.post(f"{API}/endpoints/web/test").json()["ok"] is True
    # Pointing that key at another URL from the page needs it entered again.
    moved = client.post(
        f"/projects/{project['id']}/endpoints/web", data={"base_url": "http://127.0.0.1:9/v1"}
    )
    assert "enter the key again" in moved.text
