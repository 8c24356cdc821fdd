"""The questions, dataset, duplicates, import and judge pages' management actions (TestClient)."""

from __future__ import annotations

import json
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import select

from distillset.store import Answer, Question, Store
from helpers import only_project, seed_export_dataset

HX = {"HX-Request": "true"}


def _answer_ids(store: Store) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(Answer.id).order_by(Answer.id)))


def test_questions_edit_delete_and_bulk(client: TestClient, store: Store, database: str) -> None:
    seed_export_dataset(store, per_tag=2)
    project = only_project(store)
    base = f"/projects/{project.id}/questions"
    page = client.get(base).text
    assert 'form="question-bulk"' in page and "Select question 1" in page

    edited = client.post(f"{base}/1/edit", data={"text": "Edited question?"}, headers=HX)
    assert edited.status_code == 200 and "Edited question?" in edited.text
    refused = client.post(f"{base}/1/edit", data={"text": "  "}, headers=HX)
    assert refused.status_code == 422

    deleted = client.post(f"{base}/2/delete", headers=HX)
    assert "Question #2 deleted with 1 answers." in deleted.text

    # Selected: none checked is refused; the checked ones move; the filter's ones go.
    none = client.post(f"{base}/bulk", data={"action": "delete"}, headers=HX)
    assert none.status_code == 422 and "select at least one question" in none.text
    moved = client.post(
        f"{base}/bulk",
        data={"action": "move", "ids": ["3", "4"], "to_tag": "Running"},
        headers=HX,
    )
    assert "Moved 2 questions under Running." in moved.text
    everything = client.post(f"{base}/bulk", data={"action": "delete", "scope": "filter"})
    assert everything.status_code == 422  # an empty filter never means the whole project
    by_filter = client.post(
        f"{base}/bulk",
        data={"action": "delete", "scope": "filter", "tag": "Running"},
        headers=HX,
    )
    assert "Deleted 4 questions with 4 answers." in by_filter.text
    with store.session() as session:
        assert len(list(session.scalars(select(Question.id)))) == 1


def test_dataset_bulk_review_labels_and_duplicates(
    client: TestClient, store: Store, database: str
) -> None:
    seed_export_dataset(store, per_tag=2)
    project = only_project(store)
    base = f"/projects/{project.id}/dataset"
    ids = _answer_ids(store)
    confirmed = client.post(
        f"{base}/bulk", data={"action": "confirm", "ids": [str(i) for i in ids[:2]]}, headers=HX
    )
    assert "Confirmed 2 records." in confirmed.text
    scored = client.post(
        f"{base}/bulk",
        data={"action": "score", "scope": "filter", "tag": "Ball games", "score": "4.5"},
        headers=HX,
    )
    assert "Scored 4 records: 4.5." in scored.text
    labelled = client.post(
        f"{base}/bulk",
        data={"action": "label", "scope": "filter", "confirmed": "yes", "label_text": "gold"},
        headers=HX,
    )
    assert "Labelled 2 records 'gold'." in unescape(labelled.text)
    assert client.get(f"{base}?label=gold").text.count('class="record card"') == 2
    one = client.post(f"{base}/{ids[5]}", data={"labels": "checked, gold"}, headers=HX)
    assert one.status_code == 200 and "checked" in one.text
    with store.session() as session:
        record = session.get(Answer, ids[5])
        assert record is not None and record.labels == ["checked", "gold"]
    gone = client.post(
        f"{base}/bulk",
        data={"action": "delete", "scope": "filter", "min_score": "4"},
        headers=HX,
    )
    assert "Deleted 4 records" in gone.text
    bad = client.post(f"{base}/bulk", data={"action": "score", "scope": "filter"}, headers=HX)
    assert bad.status_code == 422

    # Duplicates: the same answer twice under Running.
    with store.session() as session:
        rows = session.scalars(select(Answer).order_by(Answer.id)).all()
        rows[-1].answer = rows[-2].answer
    report = client.get(f"{base}/duplicates").text
    assert "No duplicates found." not in report and "Label duplicates" in report
    labelled = client.post(f"{base}/duplicates/label", data={"label": "dup"}, headers=HX)
    assert "Labelled 1 duplicate records 'dup'." in unescape(labelled.text)


def test_dataset_import_page(client: TestClient, store: Store) -> None:
    client.post("/projects", data={"name": "Sports"})
    page = client.get("/projects/1/dataset/import").text
    assert 'name="shape"' in page and "alpaca" in page
    rows = [{"instruction": f"Q{i}?", "output": f"A{i}."} for i in range(3)]
    upload = {"file": ("data.jsonl", "\n".join(json.dumps(r) for r in rows), "text/plain")}
    imported = client.post("/projects/1/dataset/import", files=upload, headers=HX)
    assert imported.status_code == 200, imported.text
    assert "3 new questions, 3 answers" in imported.text
    again = client.post("/projects/1/dataset/import", files=upload, headers=HX)
    assert "0 new questions" in again.text and "3 already in the project" in again.text
    bad = {"file": ("data.jsonl", '{"instruction": "Q?"}\nnot json', "text/plain")}
    refused = client.post("/projects/1/dataset/import", files=bad, headers=HX)
    assert refused.status_code == 422


def test_judge_form_starts_a_task(
    client: TestClient, store: Store, project_factory: object
) -> None:
    seed_export_dataset(store, per_tag=1)
    project = only_project(store)
    started = client.post(
        f"/projects/{project.id}/dataset/judge", data={"model": "nope"}, headers=HX
    )
    assert started.status_code == 404 and "nope" in started.text


def test_an_edit_draws_the_tree_with_the_open_nodes_open(client: TestClient, store: Store) -> None:
    seed_export_dataset(store, per_tag=1)
    project = only_project(store)
    base = f"/projects/{project.id}/distill"
    closed = client.post(f"{base}/tags", data={"label": "Swimming"}, headers=HX).text
    assert 'id="tag-2"' not in closed  # Football, under Ball games: not drawn when closed
    opened = client.post(
        f"{base}/tags", data={"label": "Cycling"}, headers={**HX, "X-Open-Tags": "1,x,99999"}
    ).text
    assert 'id="tag-2"' in opened and "Football" in opened  # Ball games drawn open


def test_tag_search_through_the_api(client: TestClient, store: Store) -> None:
    seed_export_dataset(store, per_tag=1)
    project = only_project(store)
    found = client.get(f"/api/v1/projects/{project.id}/tags/search", params={"q": "ball > ten"})
    assert found.status_code == 200
    assert found.json() == [{"id": 3, "path": "Ball games > Tennis"}]
    assert client.get(f"/api/v1/projects/{project.id}/tags/search").status_code == 422
