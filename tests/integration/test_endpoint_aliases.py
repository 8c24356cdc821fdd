"""Endpoint aliases are plain names that fit in a URL, refused alike by the API and the CLI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from distillset.domain import InvalidInputError
from distillset.projects.endpoints import add_endpoint, check_alias, get_endpoint
from distillset.store import ModelEndpoint, Store

API = "/api/v1/endpoints"
BAD = ["a/b", "../etc", ".", "..", "sp ace", "x" * 65, "", "tab\t", "ünï", "none", "NONE"]
GOOD = ["fake", "gpt-4o.mini", "Qwen_3-32B", "a", "x" * 64, "...", ".hidden"]


@pytest.mark.parametrize("alias", BAD)
def test_bad_aliases_are_refused(alias: str) -> None:
    with pytest.raises(InvalidInputError):
        check_alias(alias)


@pytest.mark.parametrize("alias", GOOD)
def test_good_aliases_pass(alias: str) -> None:
    assert check_alias(alias) == alias


def test_the_api_refuses_a_path_alias_and_serves_a_dotted_one(client: TestClient) -> None:
    body = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    for alias in ("a/b", "../x", ".."):
        refused = client.post(API, json=body | {"alias": alias})
        assert refused.status_code == 422, alias
        assert "invalid model alias" in refused.text
    assert client.get(API).json() == []

    created = client.post(API, json=body | {"alias": "gpt-4o.mini"})
    assert created.status_code == 201
    assert client.get(f"{API}/gpt-4o.mini").json()["alias"] == "gpt-4o.mini"


def test_an_alias_stored_before_the_rule_still_works(store: Store) -> None:
    with store.session() as session:
        session.add(ModelEndpoint(alias="old alias", base_url="http://x/v1", model="m"))
    with store.session() as session:
        assert get_endpoint(session, "old alias").model == "m"
        with pytest.raises(InvalidInputError):
            add_endpoint(session, "new alias", model="m", base_url="http://x/v1")
