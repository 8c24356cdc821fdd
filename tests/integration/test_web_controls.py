"""Controls of the pages for the CLI's newer options (best-of-N answers, batch, selection,
difficulty, budgets, auto-tag on import, token scores), through TestClient against the fake
model server."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from distillset.testing import FakeModelServer
from helpers import web_project_with_fake_models

HX = {"HX-Request": "true"}
API = "/api/v1"


@pytest.fixture
def project_id(database: str, client: TestClient, fake_server: FakeModelServer) -> int:
    """A project on SQLite and on PostgreSQL, its models the fake server's."""
    project = web_project_with_fake_models(client, fake_server.url)
    return project


def _questions(client: TestClient, project_id: int, count: int = 2) -> int:
    """A tag with ``count`` unanswered questions; its id."""
    tag = client.post(f"{API}/projects/{project_id}/tags", json={"label": "Golf"}).json()
    client.post(
        f"{API}/projects/{project_id}/tags/{tag['id']}/questions/generate", json={"count": count}
    )
    return int(tag["id"])


def _finished(client: TestClient, task_id: int) -> dict[str, object]:
    with client.stream("GET", f"{API}/tasks/{task_id}/events") as stream:
        last = [line for line in stream.iter_lines() if line.startswith("data: ")][-1]
    data: dict[str, object] = json.loads(last[6:])
    return data


def _records(client: TestClient, project_id: int) -> list[dict[str, object]]:
    records: list[dict[str, object]] = client.get(
        f"{API}/projects/{project_id}/records", params={"limit": 1000}
    ).json()["records"]
    return records


def _offer_batches(client: TestClient, project_id: int) -> None:
    """Set the answer endpoint up for the batch interface (a batch discount, here none)."""
    edited = client.post(
        f"/projects/{project_id}/endpoints/fake", data={"batch_discount": "0"}, headers=HX
    )
    assert edited.status_code == 200, edited.text


def _task_id_of(reply_text: str) -> int:
    marker = 'data-task-stream="/api/v1/tasks/'
    start = reply_text.index(marker) + len(marker)
    return int(reply_text[start : reply_text.index("/", start)])


def test_the_tag_panel_answers_all_with_samples_and_temperature(
    client: TestClient, project_id: int
) -> None:
    tag = _questions(client, project_id)
    panel = client.get(f"/projects/{project_id}/distill/tags/{tag}").text
    assert 'name="samples"' in panel and 'name="temperature"' in panel
    assert 'name="max_cost"' in panel
    # No batch checkbox for an endpoint not set up for batches: a link to the field instead.
    assert 'name="batch"' not in panel and "settings#batch_discount-fake" in panel
    _offer_batches(client, project_id)
    panel = client.get(f"/projects/{project_id}/distill/tags/{tag}").text
    assert 'name="batch"' in panel and "settings#batch_discount-fake" not in panel
    started = client.post(
        f"/projects/{project_id}/distill/tags/{tag}/answer-all",
        data={"samples": "2", "temperature": "0.7"},
        headers=HX,
    )
    assert started.status_code == 200, started.text
    task_id = _task_id_of(started.text)
    assert _finished(client, task_id)["status"] == "succeeded"
    items = _records(client, project_id)
    assert len(items) == 4  # two samples of each of the two questions
    assert {r["variant"] for r in items} == {0, 1}


def test_answer_all_refuses_a_bad_temperature_beside_the_control(
    client: TestClient, project_id: int
) -> None:
    tag = _questions(client, project_id, 1)
    refused = client.post(
        f"/projects/{project_id}/distill/tags/{tag}/answer-all",
        data={"temperature": "9"},
        headers=HX,
    )
    assert refused.status_code == 422 and "temperature" in refused.text
    kinds = [task["kind"] for task in client.get(f"{API}/projects/{project_id}/tasks").json()]
    assert "answers" not in kinds


def test_the_questions_page_answers_unanswered_through_the_batch_interface(
    client: TestClient, project_id: int
) -> None:
    _questions(client, project_id, 1)
    _offer_batches(client, project_id)
    page = client.get(f"/projects/{project_id}/questions").text
    assert 'id="answer-unanswered"' in page and 'name="batch"' in page
    started = client.post(
        f"/projects/{project_id}/questions/answer-unanswered",
        data={"tag": "", "batch": "true", "samples": "1"},
        headers=HX,
    )
    task_id = int(started.headers["HX-Redirect"].rsplit("/", 1)[1])
    task = client.get(f"{API}/tasks/{task_id}").json()
    assert task["kind"] == "answers"
    assert task["params"].get("batch_answers") is True, task["params"]


def test_the_auto_dialog_plans_with_temperature_and_starts_batch_answers(
    client: TestClient, project_id: int
) -> None:
    _offer_batches(client, project_id)
    page = client.get(f"/projects/{project_id}/distill").text
    assert 'name="temperature"' in page and 'name="batch_answers"' in page
    form = {
        "topic": "Sports",
        "levels": "1",
        "tags_per_level": "1",
        "questions_per_tag": "1",
        "samples": "2",
        "temperature": "0.5",
        "batch_answers": "true",
    }
    plan = client.post(f"/projects/{project_id}/distill/auto/plan", data=form, headers=HX)
    assert "<strong>2</strong> answers" in plan.text
    started = client.post(f"/projects/{project_id}/distill/auto/start", data=form, headers=HX)
    task_id = int(started.headers["HX-Redirect"].rsplit("/", 1)[1])
    params = client.get(f"{API}/tasks/{task_id}").json()["params"]
    assert params.get("batch_answers") is True and params.get("temperature") == 0.5, params


def _sampled(client: TestClient, project_id: int) -> int:
    """Two questions with two samples each, answered; the tag's id."""
    tag = _questions(client, project_id)
    started = client.post(
        f"{API}/projects/{project_id}/tasks/answers", json={"samples": 2, "temperature": 0.7}
    ).json()
    assert _finished(client, started["task_id"])["status"] == "succeeded"
    return tag


def test_the_dataset_page_chooses_samples_by_vote_and_by_the_judge(
    client: TestClient, project_id: int
) -> None:
    _sampled(client, project_id)
    page = client.get(f"/projects/{project_id}/dataset").text
    assert 'id="select-form"' in page and 'value="consistency"' in page
    voted = client.post(
        f"/projects/{project_id}/dataset/select", data={"by": "consistency"}, headers=HX
    )
    assert voted.status_code == 200 and "by majority vote" in voted.text
    assert 'data-field="chosen"' in voted.text and "chosen (consistency)" in voted.text

    judged = client.post(f"/projects/{project_id}/dataset/select", data={"by": "judge"}, headers=HX)
    task_id = int(judged.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert _finished(client, task_id)["status"] == "succeeded"
    assert "chosen (judge)" in client.get(f"/projects/{project_id}/dataset").text
    bad = client.post(f"/projects/{project_id}/dataset/select", data={"by": "dice"}, headers=HX)
    assert bad.status_code == 422


def test_the_dataset_page_and_the_api_rate_difficulty_as_a_task(
    client: TestClient, project_id: int
) -> None:
    tag = _sampled(client, project_id)
    page = client.get(f"/projects/{project_id}/dataset").text
    assert 'id="rate-form"' in page and "Rate difficulty" in page
    started = client.post(f"/projects/{project_id}/dataset/rate", data={"tag": ""}, headers=HX)
    task_id = int(started.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert _finished(client, task_id)["status"] == "succeeded"
    shown = client.get(f"/projects/{project_id}/dataset").text
    assert shown.count('data-field="difficulty"') == 4 and "/10</span>" in shown
    # The dataset page filters on it, and a bulk change over the filter keeps to it.
    ratings = {int(str(r["difficulty"])) for r in _records(client, project_id)}
    hardest = max(ratings)
    base = f"/projects/{project_id}/dataset"
    hard = client.get(base, params={"min_difficulty": hardest}).text
    expected = sum(1 for r in _records(client, project_id) if r["difficulty"] == hardest)
    assert hard.count('data-field="difficulty"') == expected
    assert f'name="min_difficulty" value="{hardest}"' in hard
    labelled = client.post(
        f"{base}/bulk",
        data={
            "action": "label",
            "scope": "filter",
            "label_text": "hard",
            "min_difficulty": hardest,
        },
        headers=HX,
    )
    assert f"Labelled {expected} records" in labelled.text
    refused = client.get(base, params={"min_difficulty": "11"})
    assert refused.status_code == 422 and "min difficulty" in refused.text
    # The REST call: nothing left to rate, then every question again with rerate.
    again = client.post(f"{API}/projects/{project_id}/tasks/rate", json={"tag_id": tag})
    assert again.status_code == 202 and again.json()["kind"] == "rate"
    assert _finished(client, again.json()["id"])["status"] == "succeeded"
    rerated = client.post(f"{API}/projects/{project_id}/tasks/rate", json={"rerate": True})
    assert rerated.json()["params"].get("rerate") is True, rerated.json()["params"]
    unknown = client.post(f"/projects/{project_id}/dataset/rate", data={"tag": "Nope"}, headers=HX)
    assert unknown.status_code == 404 and "Nope" in unknown.text
    no_judge = client.post(f"{API}/projects/{project_id}/tasks/rate", json={"model": "ghost"})
    assert no_judge.status_code == 404


def _judged_and_rated(client: TestClient, project_id: int) -> list[dict[str, object]]:
    _sampled(client, project_id)
    judged = client.post(f"/projects/{project_id}/dataset/select", data={"by": "judge"}, headers=HX)
    assert _finished(client, int(judged.headers["HX-Redirect"].rsplit("/", 1)[1]))
    rated = client.post(f"{API}/projects/{project_id}/tasks/rate", json={}).json()
    assert _finished(client, rated["id"])["status"] == "succeeded"
    return _records(client, project_id)


def _rows(client: TestClient, project_id: int, **params: str) -> list[dict[str, object]]:
    reply = client.get(f"/projects/{project_id}/export/file", params=params)
    assert reply.status_code == 200, reply.text
    return [json.loads(line) for line in reply.text.splitlines()]


def test_the_export_page_offers_samples_difficulty_and_pairs(
    client: TestClient, project_id: int
) -> None:
    records = _judged_and_rated(client, project_id)
    page = client.get(f"/projects/{project_id}/export").text
    for name in ("min_difficulty", "balanced_by", "all_samples", "margin"):
        assert f'name="{name}"' in page, name
    assert 'value="dpo"' in page and 'value="ranking"' in page
    assert len(_rows(client, project_id)) == 2  # one (the chosen) sample per question
    assert len(_rows(client, project_id, all_samples="true")) == 4
    difficulties = sorted({int(str(r["difficulty"])) for r in records})
    hardest = difficulties[-1]
    expected = len({r["question_id"] for r in records if r["difficulty"] == hardest})
    assert len(_rows(client, project_id, min_difficulty=str(hardest))) == expected
    balanced = _rows(client, project_id, balanced="1", balanced_by="difficulty")
    assert len(balanced) == len(difficulties)
    # Scores 2.0/1.5 and 3.5/1.0: a gap of 1 pairs the second question only, 0.5 both.
    assert len(_rows(client, project_id, format="dpo")) == 1
    assert len(_rows(client, project_id, format="dpo", margin="0.5")) == 2
    wide = client.get(
        f"/projects/{project_id}/export/file", params={"format": "dpo", "margin": "5"}
    )
    assert wide.status_code == 404 and "no preference pair" in wide.text
    assert 'id="export-form"' in wide.text and 'value="5"' in wide.text
    api = client.get(f"{API}/projects/{project_id}/export", params={"all_samples": "true"})
    assert len(api.text.splitlines()) == 4
    hard = client.get(f"{API}/projects/{project_id}/export", params={"min_difficulty": hardest})
    assert len(hard.text.splitlines()) == expected
    bad = client.get(f"/projects/{project_id}/export/file", params={"min_difficulty": "11"})
    assert bad.status_code == 422 and "difficulty" in bad.text and 'id="export-form"' in bad.text


def test_settings_keep_the_project_budget_and_endpoint_prices(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    page = client.get(f"/projects/{project_id}/settings").text
    assert 'name="max_cost"' in page and 'name="batch_discount"' in page
    base = {"topic": "Sports", "language": "en", "answer_system_prompt": ""}
    saved = client.post(
        f"/projects/{project_id}/settings", data={**base, "max_cost": "2.5"}, headers=HX
    )
    assert "Settings saved" in saved.text
    assert client.get(f"{API}/projects/{project_id}").json()["max_cost"] == 2.5
    assert 'value="2.5"' in client.get(f"/projects/{project_id}/settings").text
    refused = client.post(
        f"/projects/{project_id}/settings", data={**base, "max_cost": "-1"}, headers=HX
    )
    assert refused.status_code == 422 and "budget" in refused.text
    assert client.get(f"{API}/projects/{project_id}").json()["max_cost"] == 2.5
    client.post(f"/projects/{project_id}/settings", data={**base, "max_cost": ""}, headers=HX)
    assert client.get(f"{API}/projects/{project_id}").json()["max_cost"] is None
    added = client.post(
        f"/projects/{project_id}/endpoints",
        data={
            "alias": "cheap",
            "base_url": fake_server.url,
            "model": "m",
            "price_input_per_m": "1",
            "price_output_per_m": "2",
            "price_cached_input_per_m": "0.1",
            "batch_discount": "0.5",
        },
        headers=HX,
    )
    assert added.status_code == 200, added.text
    cheap = next(e for e in client.get(f"{API}/endpoints").json() if e["alias"] == "cheap")
    assert cheap["batch_discount"] == 0.5 and cheap["price_cached_input_per_m"] == 0.1


def _jsonl(questions: list[str]) -> bytes:
    rows = [{"instruction": q, "input": "", "output": f"Answer to {q}"} for q in questions]
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def test_the_import_page_places_new_questions_on_the_tree(
    client: TestClient, project_id: int
) -> None:
    base = f"/projects/{project_id}/dataset/import"
    upload = {"file": ("import.jsonl", _jsonl(["How long is a football match?"]))}
    # No leaf besides the import's own tag: refused before anything is written.
    refused = client.post(base, files=upload, data={"auto_tag": "true"}, headers=HX)
    assert refused.status_code == 422 and "no leaf tag" in refused.text
    assert _records(client, project_id) == []
    top = client.post(f"{API}/projects/{project_id}/tags", json={"label": "Ball games"}).json()
    for label in ("Football", "Tennis"):
        client.post(
            f"{API}/projects/{project_id}/tags", json={"label": label, "parent_id": top["id"]}
        )
    page = client.get(base).text
    assert 'name="auto_tag"' in page and 'name="model"' in page
    questions = ["How long is a football match?", "Who serves first in tennis?"]
    upload = {"file": ("import.jsonl", _jsonl(questions))}
    imported = client.post(base, files=upload, data={"auto_tag": "true"}, headers=HX)
    assert imported.status_code == 200, imported.text
    assert 'id="auto-tag-task"' in imported.text
    link = imported.text.split('id="auto-tag-task"')[0].rsplit('href="', 1)[1].split('"')[0]
    task_id = int(link.rsplit("/", 1)[1])
    assert _finished(client, task_id)["status"] == "succeeded"
    paths = {str(r["question"]): r["tag_path"] for r in _records(client, project_id)}
    assert paths == {
        "How long is a football match?": "Ball games > Football",
        "Who serves first in tennis?": "Ball games > Tennis",
    }
    again = client.post(base, files=upload, data={"auto_tag": "true"}, headers=HX)
    assert "No new question to place" in again.text and "auto-tag-task" not in again.text


def test_the_record_page_scores_tokens_or_says_why_it_cannot(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    _questions(client, project_id, 1)
    started = client.post(f"{API}/projects/{project_id}/tasks/answers", json={}).json()
    assert _finished(client, started["task_id"])["status"] == "succeeded"
    record = _records(client, project_id)[0]["id"]
    page = client.get(f"/projects/{project_id}/dataset/{record}").text
    assert 'id="score-tokens"' in page and "Score tokens" in page
    url = f"/projects/{project_id}/dataset/{record}/score-tokens"

    fake_server.configure(scores_prompts=False)  # as llama.cpp: the field is ignored
    refused = client.post(url, data={"endpoint": "fake", "k": "5"}, headers=HX)
    assert refused.status_code == 422 and "cannot score given text" in refused.text
    assert len(refused.text.strip().splitlines()) <= 3  # one line of message
    kinds = [task["kind"] for task in client.get(f"{API}/projects/{project_id}/tasks").json()]
    assert "score_tokens" not in kinds

    fake_server.configure(scores_prompts=True)
    scored = client.post(url, data={"endpoint": "fake", "k": "5"}, headers=HX)
    task_id = int(scored.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert _finished(client, task_id)["status"] == "succeeded"
    shown = client.get(f"/projects/{project_id}/dataset/{record}").text
    assert 'data-tokens="answer"' in shown and 'id="score-tokens"' not in shown
    tokens = client.get(f"{API}/projects/{project_id}/records/{record}/tokens").json()
    assert tokens["tokens"]

    # The REST call: the same task over a tag's subtree (nothing left to score here).
    again = client.post(
        f"{API}/projects/{project_id}/records/score-tokens", json={"endpoint": "fake", "all": True}
    )
    assert again.status_code == 202 and again.json()["kind"] == "score_tokens"
    assert _finished(client, again.json()["id"])["status"] == "succeeded"
    nothing = client.post(
        f"{API}/projects/{project_id}/records/score-tokens", json={"endpoint": "fake"}
    )
    assert nothing.status_code == 422


def test_the_plan_prices_batch_answers_with_the_batch_discount(
    client: TestClient, project_id: int
) -> None:
    edited = client.post(
        f"/projects/{project_id}/endpoints/fake",
        data={"price_input_per_m": "1", "price_output_per_m": "4", "batch_discount": "0.5"},
        headers=HX,
    )
    assert edited.status_code == 200, edited.text
    params = {"levels": 1, "tags_per_level": 2, "questions_per_tag": 2}
    plain = client.post(f"{API}/projects/{project_id}/auto/plan", json=params).json()
    batched = client.post(
        f"{API}/projects/{project_id}/auto/plan", json={**params, "batch_answers": True}
    ).json()
    assert plain["estimated_cost"] > batched["estimated_cost"] > 0
    # The dialog's plan follows the checkbox: a confirmation given without it is re-planned.
    form = {k: str(v) for k, v in params.items()} | {"topic": "Sports"}
    shown = client.post(f"/projects/{project_id}/distill/auto/plan", data=form, headers=HX)
    planned = shown.text.split('name="planned" value="')[1].split('"')[0]
    replanned = client.post(
        f"/projects/{project_id}/distill/auto/start",
        data={**form, "batch_answers": "true", "confirm_large": "true", "planned": planned},
        headers=HX,
    )
    assert "The fields changed after this plan was shown" in replanned.text


def test_the_dataset_page_scores_the_tokens_of_the_filter_or_every_record(
    client: TestClient, project_id: int, fake_server: FakeModelServer
) -> None:
    _questions(client, project_id)
    started = client.post(f"{API}/projects/{project_id}/tasks/answers", json={}).json()
    assert _finished(client, started["task_id"])["status"] == "succeeded"
    url = f"/projects/{project_id}/dataset/score-tokens"
    assert 'id="score-tokens-form"' in client.get(f"/projects/{project_id}/dataset").text
    blank = client.post(url, data={"endpoint": "fake", "scope": "filter"}, headers=HX)
    assert blank.status_code == 422 and "set a filter first" in blank.text
    assert "--all" not in blank.text

    fake_server.configure(scores_prompts=False)
    refused = client.post(url, data={"endpoint": "fake", "scope": "all"}, headers=HX)
    assert refused.status_code == 422 and "cannot score given text" in refused.text
    fake_server.configure(scores_prompts=True)

    first = _records(client, project_id)[0]["id"]
    one = client.post(
        url, data={"endpoint": "fake", "scope": "selected", "ids": str(first), "k": "3"}, headers=HX
    )
    task_id = int(one.headers["HX-Redirect"].rsplit("/", 1)[1])
    assert _finished(client, task_id)["status"] == "succeeded"
    task = client.get(f"{API}/tasks/{task_id}").json()
    assert task["params"]["filter"] == {"ids": [first]} and task["params"]["k"] == 3
    every = client.post(url, data={"endpoint": "fake", "scope": "all"}, headers=HX)
    assert _finished(client, int(every.headers["HX-Redirect"].rsplit("/", 1)[1]))
    for record in _records(client, project_id):
        tokens = client.get(f"{API}/projects/{project_id}/records/{record['id']}/tokens")
        assert tokens.status_code == 200 and tokens.json()["tokens"]
