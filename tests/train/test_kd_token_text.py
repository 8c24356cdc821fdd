"""KD on soft labels given as token text without ids (vLLM's default, OpenAI): the text is
mapped to the student's ids when its tokenizer is the teacher's; a token with no single id
sends its record to hard labels, counted; an unknown or different teacher tokenizer is
refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import Result

from distillset.domain import InvalidInputError
from distillset.testing import FakeModelServer
from distillset.train import examples, trainer
from distillset.train.records import Record, compact_soft_labels
from distillset.train.token_text import NOT_IN_VOCABULARY, TokenTextMapper

NAME = "Rowing"
ANSWER = "Drive with the legs, then the back."
Cli = Callable[..., Result]


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def _text_record(tokenizer: Any, texts: list[str] | None = None, name: str = "tiny") -> Record:
    """A record whose soft labels carry the answer's tokens as text, as the export writes
    them without ids, each with the next token of the vocabulary as an alternative."""
    ids = tokenizer.encode(ANSWER, add_special_tokens=False)
    texts = texts or [tokenizer.decode([i]) for i in ids]
    return Record(
        id=3, tag_path="Rowing", question="How?", answer=ANSWER, reasoning=None, system=None,
        soft_labels=compact_soft_labels({
            "tokenizer": {"name": name}, "k": 2, "answer_start": 0,
            "token_ids": None, "tokens": texts, "top_ids": None,
            "top_tokens": [[text, "<|im_end|>"] for text in texts],
            "top_logprobs": [[-0.1, -2.5] for _ in texts],
        }),
    )  # fmt: skip


def test_token_text_maps_to_exactly_one_id(tiny_student: Path) -> None:
    tokenizer = trainer.load_tokenizer(str(tiny_student))
    mapper = TokenTextMapper(tokenizer)
    assert mapper.byte_level
    for token_id in tokenizer.encode(" the rowing stroke, é 漢", add_special_tokens=False):
        piece = tokenizer.convert_ids_to_tokens(token_id)
        data = bytes(_gpt2_bytes()[char] for char in piece)
        text = data.decode("utf-8", "replace")
        if "\ufffd" in text:  # part of a character: the export writes its bytes
            text = "bytes:" + "".join(f"\\x{byte:02x}" for byte in data)
        assert mapper.id_of(text) == token_id, (piece, text)
    assert mapper.id_of("</think>") == tokenizer.convert_tokens_to_ids("</think>")
    assert mapper.id_of("token_id:7") == 7
    # Text that is no single token of the vocabulary maps to nothing.
    assert mapper.id_of(" the rowing stroke") is None
    assert mapper.id_of("token_id:99999999") is None


def test_a_tokenizer_that_is_not_byte_level_maps_text_it_encodes_to_one_id() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel({"[UNK]": 0, "row": 1, "the": 2}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    mapper = TokenTextMapper(PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]"))
    assert not mapper.byte_level
    assert (mapper.id_of("row"), mapper.id_of("the")) == (1, 2)
    assert mapper.id_of("the row") is None  # two ids
    assert mapper.id_of("oar") is None  # the unknown token is no mapping


def _gpt2_bytes() -> dict[str, int]:
    from distillset.testing.tiny_student import _byte_decoder

    return _byte_decoder()


def test_text_only_soft_labels_become_the_students_ids(tiny_student: Path) -> None:
    tokenizer = trainer.load_tokenizer(str(tiny_student))
    record = _text_record(tokenizer)
    result = examples.build_examples(
        tokenizer, [record], method="kd", reasoning="drop", max_length=256
    )
    assert not result.hard_only
    (example,) = result.examples
    ids = tokenizer.encode(ANSWER, add_special_tokens=False)
    assert example.top_ids is not None and example.top_logprobs is not None
    soft = [i for i, row in enumerate(example.top_logprobs) if np.isfinite(row).any()]
    assert [example.labels[i] for i in soft] == ids
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert example.top_ids[soft].tolist() == [[i, end] for i in ids]


def test_a_token_without_a_single_id_falls_back_to_hard_labels(tiny_student: Path) -> None:
    tokenizer = trainer.load_tokenizer(str(tiny_student))
    texts = [tokenizer.decode([i]) for i in tokenizer.encode(ANSWER, add_special_tokens=False)]
    merged = [texts[0] + texts[1], *texts[2:]]  # two tokens as one: no single id
    records = [_text_record(tokenizer), _text_record(tokenizer, merged)]
    result = examples.build_examples(
        tokenizer, records, method="kd", reasoning="drop", max_length=256
    )
    assert dict(result.hard_only) == {NOT_IN_VOCABULARY: 1}
    assert [e.top_ids is not None for e in result.examples] == [True, False]


def test_text_only_soft_labels_of_an_unknown_or_other_tokenizer_are_refused(
    tiny_student: Path, tmp_path: Path
) -> None:
    from distillset.testing.tiny_student import train_tokenizer

    tokenizer = trainer.load_tokenizer(str(tiny_student))
    examples.check_same_tokenizer(tokenizer, [_text_record(tokenizer, name=str(tiny_student))], "s")
    copy = tmp_path / "same-vocabulary"
    tokenizer.save_pretrained(copy)  # another name, the same vocabulary
    examples.check_same_tokenizer(tokenizer, [_text_record(tokenizer, name=str(copy))], "s")
    other = tmp_path / "other"
    train_tokenizer(["something else entirely, " * 5], vocab_size=300).save_pretrained(other)
    with pytest.raises(InvalidInputError) as error:
        examples.check_same_tokenizer(tokenizer, [_text_record(tokenizer, name=str(other))], "s")
    assert f"tokenizer ({other}) is not the student's (s)" in str(error.value)
    unnamed = _text_record(tokenizer, name="")
    with pytest.raises(InvalidInputError) as error:
        examples.check_same_tokenizer(tokenizer, [unnamed], "s")
    assert "token text without ids" in str(error.value) and "--tokenizer" in str(error.value)


@pytest.fixture
def distilled_as_text(
    database: str,
    cli: Cli,
    cli_project_factory: Callable[[str], str],
    fake_server: FakeModelServer,
    tiny_student: Path,
) -> str:
    """A project distilled by a teacher sharing the tiny student's tokenizer whose logprobs
    give token text and no ids, as vLLM and OpenAI do."""
    fake_server.configure(vocabulary=str(tiny_student), logprobs_ids=False)
    cli_project_factory(NAME)
    ok(cli("model", "set", "fake", "--logprobs", "5", "--tokenizer", str(tiny_student)))
    ok(cli("auto", NAME, "--levels", "1", "--tags", "3", "--questions", "4", "--json"))
    return NAME


def test_kd_trains_on_soft_labels_given_as_text(
    cli: Cli, distilled_as_text: str, tiny_student: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "kd.jsonl"
    ok(cli("export", NAME, "--output", str(exported), "--soft-labels"))
    rows = [json.loads(line) for line in exported.read_text().splitlines()]
    assert rows and all(row["soft_labels"]["token_ids"] is None for row in rows)
    output = tmp_path / "kd-student"
    args = ("--student", str(tiny_student), "--output", str(output), "--method", "kd")
    steps = ("--max-steps", "4", "--logging-steps", "2", "--lr", "5e-3", "--json")
    summary = json.loads(ok(cli("train", NAME, *args, *steps)).stdout)
    assert summary["status"] == "succeeded", summary
    card = (output / "README.md").read_text()
    # Every record's text mapped to the student's ids: none fell back to hard labels.
    assert "| records on hard labels only | 0 |" in card
