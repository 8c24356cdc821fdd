"""The export page's options: delimiters, system prompt, field names, a held-out split, Hugging
Face and LLaMA-Factory directories as a zip, and refusals that keep the form."""

from __future__ import annotations

import io
import json
import zipfile

from fastapi.testclient import TestClient

from distillset.store import Store
from helpers import seed_export_dataset


def _zip(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def test_one_file_with_delimiters_system_and_field_names(
    client: TestClient, store: Store, database: str
) -> None:
    project = seed_export_dataset(store, per_tag=2)
    page = client.get(f"/projects/{project.id}/export").text
    assert 'name="split"' in page and 'name="field_question"' in page and "llamafactory" in page
    custom = client.get(
        f"/projects/{project.id}/export/file",
        params={
            "format": "custom",
            "reasoning": "inline",
            "think_open": "[R]\\n",
            "think_close": "[/R]\\n",
            "field_question": "prompt",
            "field_answer": "completion",
        },
    )
    assert custom.status_code == 200, custom.text
    rows = [json.loads(line) for line in custom.text.splitlines()]
    assert {"prompt", "completion"} <= set(rows[0]) and "question" not in rows[0]
    assert any(row["completion"].startswith("[R]\nReasoning") for row in rows)
    system = client.get(
        f"/projects/{project.id}/export/file",
        params={"format": "messages", "system": "Answer briefly."},
    )
    first = json.loads(system.text.splitlines()[0])
    assert first["messages"][0] == {"role": "system", "content": "Answer briefly."}


def test_split_hf_and_llamafactory_come_as_zips(
    client: TestClient, store: Store, database: str
) -> None:
    project = seed_export_dataset(store, per_tag=4)
    url = f"/projects/{project.id}/export/file"
    split = client.get(url, params={"format": "alpaca", "split": "eval=0.25", "package": "zip"})
    assert split.status_code == 200 and split.headers["content-type"] == "application/zip"
    names = _zip(split.content).namelist()
    assert len(names) == 2 and all(name.endswith(".jsonl") for name in names)
    lines = sum(len(_zip(split.content).read(n).splitlines()) for n in names)
    assert lines == 12
    # A split asked for "one file" is still two files: the zip.
    assert client.get(url, params={"split": "eval=0.25"}).headers["content-type"] == (
        "application/zip"
    )
    llama = client.get(
        url,
        params={"format": "sharegpt", "file_format": "json", "package": "llamafactory"},
    )
    assert llama.status_code == 200, llama.text
    bundle = _zip(llama.content)
    assert "dataset_info.json" in bundle.namelist()
    info = json.loads(bundle.read("dataset_info.json"))
    assert len(info) == 1
    hf = client.get(url, params={"format": "alpaca", "file_format": "hf", "package": "zip"})
    assert hf.status_code == 200, hf.text
    assert any(name.endswith("dataset_info.json") for name in _zip(hf.content).namelist())


def test_refusals_keep_the_form(client: TestClient, store: Store, database: str) -> None:
    project = seed_export_dataset(store, per_tag=1)
    url = f"/projects/{project.id}/export/file"
    bad_split = client.get(url, params={"split": "eval=7", "package": "zip", "system": "Kept."})
    assert bad_split.status_code == 422 and "Kept." in bad_split.text
    assert 'id="export-error"' in bad_split.text
    nothing = client.get(url, params={"package": "zip", "min_score": "5"})
    assert nothing.status_code == 404 and "nothing to download" in nothing.text
