"""Adding a tag by hand: the CLI, the web API and the workbench page share services.add_tag,
so a label is stored and refused alike whichever interface typed it."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from pathlib import Path
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
from helpers import assert_refused_in_one_line

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


def test_a_label_is_never_rewritten_around_the_path_separator(
    client: TestClient, cli: Cli, tmp_path: Path
) -> None:
    """`<b>x</b>` or `A > B` typed as one label is refused by every interface with the same
    reason ('>' separates a path's levels), never stored as something else."""
    assert cli("tags", "add", "Sports", "--path", "Running").exit_code == 0
    reason = "'>' separates the levels of a tag path"
    for typed in ("<b>x</b>", "A > B"):
        api = client.post(API, json={"label": typed})
        assert api.status_code == 422 and reason in api.json()["detail"]
        assert repr(typed) in api.json()["detail"]
        renamed = client.patch(f"{API}/1", json={"label": typed})
        assert renamed.status_code == 422 and reason in renamed.json()["detail"]
        page = client.post("/projects/1/distill/tags", data={"label": typed}, headers=HX)
        assert page.status_code == 422 and reason in html.unescape(page.text)
        outline = tmp_path / "outline.json"
        outline.write_text(json.dumps({"children": [{"label": typed}]}), encoding="utf-8")
        # The CLI names a tag by its path, so a new label is refused where it is a label.
        assert_refused_in_one_line(
            cli,
            [
                (("tags", "rename", "Sports", "--path", "Running", "--to", typed), reason),
                (("tags", "import", "Sports", str(outline)), reason),
            ],
        )
    # A path with an empty level is refused with the same explanation.
    assert_refused_in_one_line(
        cli, [(("tags", "add", "Sports", "--path", "<b>x</b>"), "'>' separates the levels")]
    )
    assert _top_labels(cli) == ["Running"]

    # Markup without '>' is a label like any other, stored as typed.
    kept = client.post(API, json={"label": "x < y & <b"})
    assert kept.status_code == 201 and kept.json()["label"] == "x < y & <b"


def test_a_typed_label_keeps_its_quotes_and_punctuation(client: TestClient, cli: Cli) -> None:
    """Quotes, emphasis marks and trailing punctuation are the person's choice: kept exactly by
    the REST API, a rename and the CLI (only surrounding spaces go)."""
    typed = ['"Quoted"', "*Warm-up*", "Why stretch?", "Rules, etc.", "'Single'"]
    for label in typed[:2]:
        made = client.post(API, json={"label": f"  {label} "})
        assert made.status_code == 201 and made.json()["label"] == label
    renamed = client.patch(f"{API}/1", json={"label": typed[2]})
    assert renamed.status_code == 200 and renamed.json()["label"] == typed[2]
    for label in typed[3:]:
        assert cli("tags", "add", "Sports", "--path", label).exit_code == 0
    assert sorted(_top_labels(cli)) == sorted(typed[1:])
