"""The quality report over the REST API and on the Quality page, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from distillset.domain import Origin
from distillset.projects.lifecycle import create_project
from distillset.store import Store
from distillset.tags.tree import add_tag_path
from helpers import add_record


@pytest.fixture
def project_id(database: str, store: Store) -> int:
    with store.session() as session:
        project = create_project(session, "Sports")
        tennis = add_tag_path(session, project, "Tennis", Origin.MANUAL)
        add_tag_path(session, project, "Running", Origin.MANUAL)
        add_record(
            session, project, tennis, "What is a <b>volley</b>?", "A shot before the bounce."
        )
        add_record(
            session, project, tennis, "Why <b>serve</b>?", "I'm sorry, but I can't help with that."
        )
        return project.id


def test_the_report_and_the_flags_over_the_api(client: TestClient, project_id: int) -> None:
    report = client.get(f"/api/v1/projects/{project_id}/report").json()
    assert report["stages"]["records"] == 2
    assert report["coverage"]["without_records"] == 1
    assert report["duplicates"]["semantic"] == {"computed": False, "reason": "not asked for"}
    flags = client.get(f"/api/v1/projects/{project_id}/flags").json()
    assert flags["by_kind"]["refusal"] == 1 and flags["examples"]["refusal"][0]["record"] == 2
    download = client.get(f"/api/v1/projects/{project_id}/report.html")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert "<svg" in download.text and "Why &lt;b&gt;serve&lt;/b&gt;?" in download.text
    for query in ("threshold=0", "threshold=1.5", "few=0", "examples=-1"):
        assert client.get(f"/api/v1/projects/{project_id}/report?{query}").status_code == 422
    assert client.get("/api/v1/projects/999/report").status_code == 404


def test_the_quality_page_shows_the_report_escaped(client: TestClient, project_id: int) -> None:
    page = client.get(f"/projects/{project_id}/quality")
    assert page.status_code == 200
    link = f'href="/projects/{project_id}/quality" class="active" aria-current="page">Quality'
    assert link in page.text
    assert "Records per flag" in page.text and page.text.count("<svg") >= 5
    # The refusal's example, its question escaped.
    assert "Why &lt;b&gt;serve&lt;/b&gt;?" in page.text and "<b>serve" not in page.text
    assert "Semantic: not computed" in page.text
    assert f"/projects/{project_id}/quality?semantic=true" in page.text
