"""Adding a tag by hand: the CLI, the web API and the workbench page share services.add_tag,
so a label is stored and refused alike whichever interface typed it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from distillset.config import Settings
from distillset.domain import ConflictError, InvalidInputError
from distillset.projects import lifecycle as projects
from distillset.store import Store
from distillset.tags import tree as tag_service
from distillset.web import create_app

Cli = Callable[..., Result]
HX = {"HX-Request": "true"}
API = "/api/v1/projects/1/tags"


@pytest.fixture
def client(settings: Settings, cli: Cli) -> Iterator[TestClient]:
    assert cli("project", "create", "Sports").exit_code == 0
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _top_labels(cli: Cli) -> list[str]:
    tree: dict[str, Any] = json.loads(cli("tags", "tree", "Sports", "--json").stdout)
    return [node["label"] for node in tree["children"]]


def test_each_interface_stores_and_refuses_a_label_alike(client: TestClient, cli: Cli) -> None:
    assert cli("tags", "add", "Sports", "--path", "10 Tips\tfor sprinting").exit_code == 0
    api = client.post(API, json={"label": "Swimming  pool"})
    assert api.status_code == 201 and api.json()["label"] == "Swimming pool"
    page = client.post("/projects/1/distill/tags", data={"label": "3 Body\nProblem"}, headers=HX)
    assert page.status_code == 200 and "3 Body Problem" in page.text
    assert _top_labels(cli) == ["10 Tips for sprinting", "Swimming pool", "3 Body Problem"]

    # The same sibling, typed differently, is refused by each with one clear message.
    cli_clash = cli("tags", "add", "Sports", "--path", "swimming POOL")
    assert cli_clash.exit_code != 0 and "already exists" in cli_clash.output
    api_clash = client.post(API, json={"label": "3 body problem"})
    assert api_clash.status_code == 409 and "already exists" in api_clash.json()["detail"]
    page_clash = client.post(
        "/projects/1/distill/tags", data={"label": "10 TIPS for sprinting"}, headers=HX
    )
    assert page_clash.status_code == 409 and "already exists" in page_clash.text
    assert len(_top_labels(cli)) == 3


def test_add_tag_checks_the_label_and_the_sibling(database: str, store: Store) -> None:
    with store.session() as session:
        project = projects.create_project(session, "Sports")
        running = tag_service.add_tag(session, project.id, None, "  Running ")
        sprint = tag_service.add_tag(session, project.id, running, "Sprint")
        assert (running.label, running.parent_id, running.depth) == ("Running", None, 1)
        assert (sprint.parent_id, sprint.depth) == (running.id, 2)
        assert tag_service.add_tag(session, project.id, None, "Sprint").parent_id is None
        with pytest.raises(ConflictError, match="'Sprint' already exists"):
            tag_service.add_tag(session, project.id, running, "sprint")
        with pytest.raises(InvalidInputError):
            tag_service.add_tag(session, project.id, running, "   ")
        # The CLI's path form walks the same function: only the missing tags are added.
        hurdles = tag_service.add_tag_path(session, project, "Running > Sprint > Hurdles")
        assert hurdles.parent_id == sprint.id
