"""Soft labels: the packed form gives back what was packed, a hostile `logprobs` payload is
refused whole, and the token where the answer starts is found only when the tokens spell the
generated text."""

from __future__ import annotations

import math
from typing import Any

import pytest

from distillset.llm.logprobs import (
    MalformedLogprobs,
    answer_start,
    capture,
    from_packed,
    packed_entry,
    read_logprobs,
)
from distillset.llm.soft_labels import (
    CAPTURED,
    MALFORMED,
    MISALIGNED,
    UNCHECKED,
    WITHHELD,
    SoftLabelError,
    SoftLabels,
    pack,
    token_text,
    unpack,
)


def _labels(with_ids: bool) -> SoftLabels:
    tokens = [b"In", b" short", b"\xe6\x97", b"\xa5", b","]
    return SoftLabels(
        k=3,
        tokens=tokens,
        ids=[10, 20, 30, 40, 2**31 - 1] if with_ids else None,
        logprobs=[-0.0, -0.5, -1.25, -2.0, -70000.0],
        top_tokens=[[t, b" the", b"."] for t in tokens[:4]] + [[]],
        top_ids=[[i, 5, 6] for i in (10, 20, 30, 40)] + [[]] if with_ids else None,
        top_logprobs=[[-0.0, -3.0, -float("inf")]] * 4 + [[]],
    )


@pytest.mark.parametrize("with_ids", [True, False])
def test_packed_soft_labels_unpack_to_the_same_tokens_ids_and_float16_logprobs(
    with_ids: bool,
) -> None:
    labels = _labels(with_ids)

    back = unpack(pack(labels))

    assert back.tokens == labels.tokens and back.top_tokens == labels.top_tokens
    assert back.ids == labels.ids and back.top_ids == labels.top_ids
    assert back.k == 3
    # float16: logprobs within its precision, below its range as -65504, -inf kept.
    assert back.logprobs[:4] == pytest.approx(labels.logprobs[:4], rel=1e-3)
    assert back.logprobs[4] == -65504.0
    assert back.top_logprobs[0][2] == -math.inf
    assert back.text_bytes.decode() == "In short日,"


def test_a_damaged_blob_is_refused_not_misread() -> None:
    blob = pack(_labels(True))

    for damaged in (blob[:5], blob[:-3], b"XX" + blob[2:], blob[:10] + b"\x00" + blob[11:]):
        with pytest.raises(SoftLabelError):
            unpack(damaged)


def _token(text: str, logprob: float = -0.5, **extra: Any) -> dict[str, Any]:
    alternatives = [
        {"token": text, "logprob": logprob, **extra},
        {"token": " x", "logprob": -3.0, **({"id": 99} if "id" in extra else {})},
    ]
    return {"token": text, "logprob": logprob, "top_logprobs": alternatives, **extra}


def test_token_ids_come_from_id_or_vllm_token_id_strings_and_are_kept_only_when_complete() -> None:
    llama = read_logprobs({"content": [_token("a", id=7), _token("b", id=8)]}, 5)
    vllm = read_logprobs({"content": [_token("token_id:12"), _token("token_id:13")]}, 5)
    partial = read_logprobs({"content": [_token("a", id=7), _token("b")]}, 5)

    assert llama is not None and llama.ids == [7, 8] and llama.top_ids == [[7, 99], [8, 99]]
    # vLLM's alternatives here are plain strings (" x"): a record has ids for all or none.
    assert vllm is not None and vllm.ids is None and vllm.top_tokens[0][0] == b"token_id:12"
    assert partial is not None and partial.ids is None
    everywhere = {
        "content": [
            {
                "token": "token_id:12",
                "logprob": -1,
                "top_logprobs": [
                    {"token": "token_id:12", "logprob": -1},
                    {"token": "token_id:5", "logprob": -2},
                ],
            }
        ]
    }
    read = read_logprobs(everywhere, 5)
    assert read is not None and read.ids == [12] and read.top_ids == [[12, 5]]


def test_bytes_are_the_tokens_truth_and_at_most_k_alternatives_are_kept() -> None:
    entry = {
        "token": "\ufffd",
        "bytes": [230, 151],
        "logprob": -0.1,
        "top_logprobs": [{"token": f"t{i}", "logprob": -i} for i in range(50)],
    }

    labels = read_logprobs({"content": [entry]}, 20)

    assert labels is not None and labels.tokens == [b"\xe6\x97"] and labels.k == 20
    assert token_text(labels.tokens[0]) == "bytes:\\xe6\\x97"


@pytest.mark.parametrize(
    "payload",
    [
        "lots",
        {"content": "tokens"},
        {"content": [None]},
        {"content": [{"token": "a", "logprob": "likely"}]},
        {"content": [{"token": "a", "logprob": float("nan")}]},
        {"content": [{"token": "a", "logprob": 2.5}]},
        {"content": [{"token": "a", "logprob": True}]},
        {"content": [{"token": 7, "logprob": -1}]},
        {"content": [{"token": "a", "bytes": [300], "logprob": -1}]},
        {"content": [{"token": "a", "bytes": "abc", "logprob": -1}]},
        {"content": [{"token": "a" * 5000, "logprob": -1}]},
        {"content": [{"token": "a", "logprob": -1, "top_logprobs": {"b": -1}}]},
        {"content": [{"token": "a", "logprob": -1, "top_logprobs": [{"token": "b"}]}]},
    ],
)
def test_a_payload_that_is_not_logprobs_is_refused_whole(payload: Any) -> None:
    with pytest.raises(MalformedLogprobs):
        read_logprobs(payload, 5)
    captured = capture(payload, 5, raw_content="a", raw_reasoning=None, answer="a")
    assert captured is not None and captured.status == MALFORMED and captured.blob is None
    assert captured.detail


def test_no_logprobs_is_none_not_an_error() -> None:
    assert read_logprobs(None, 5) is None
    assert read_logprobs({"content": None}, 5) is None
    assert read_logprobs({"content": []}, 5) is None


TOKENS = [b"Let", b" me", b" think", b"\n</think>\n\n", b"The", b" answer", b"."]


@pytest.mark.parametrize(
    ("tokens", "content", "reasoning", "answer", "expected"),
    [
        # The content alone.
        ([b"The", b" answer", b"."], "The answer.", None, "The answer.", 0),
        # Reasoning sent apart; the parser cut `</think>` out between the two.
        (TOKENS, "The answer.", "Let me think", "The answer.", 4),
        # Reasoning inline: the answer starts in the token holding its first byte.
        ([b"<think>", b"hm", b"</think>", b"\n\nThe", b" end"], "<think>hm</think>\n\nThe end",
         None, "The end", 3),
        # The tokens spell another text: no start, the record is flagged.
        ([b"The", b" ANSWER", b"."], "The answer.", None, "The answer.", None),
        (TOKENS, "The answer.", "Something else", "The answer.", None),
        ([b"junk", *TOKENS[3:]], "The answer.", "Let me think", "The answer.", None),
    ],
)  # fmt: skip
def test_the_answer_start_is_found_only_when_the_tokens_spell_the_text(
    tokens: list[bytes], content: str, reasoning: str | None, answer: str, expected: int | None
) -> None:
    assert answer_start(tokens, content, reasoning, answer) == expected


def _payload(texts: list[str]) -> dict[str, Any]:
    return {"content": [_token(text) for text in texts]}


def test_a_capture_is_flagged_misaligned_or_withheld_and_read_back_from_its_packed_entry() -> None:
    kept = capture(_payload(["Hi", " there"]), 5, raw_content="Hi there", raw_reasoning=None,
                   answer="Hi there")  # fmt: skip
    off = capture(_payload(["Hi", " where"]), 5, raw_content="Hi there", raw_reasoning=None,
                  answer="Hi there")  # fmt: skip
    mask = lambda text: text.replace("sk-secretkey", "***")  # noqa: E731
    key = capture(_payload(["sk-", "secret", "key"]), 5, raw_content="***", raw_reasoning=None,
                  answer="***", redact=mask)  # fmt: skip

    assert kept is not None and kept.status == CAPTURED and kept.answer_start == 0
    assert off is not None and off.status == MISALIGNED and off.answer_start is None
    assert off.blob is not None  # still the teacher's distribution, flagged
    assert key is not None and key.status == WITHHELD and key.blob is None
    again = from_packed(packed_entry(kept)["packed_soft_labels"])
    assert (again.status, again.blob, again.answer_start, again.tokens, again.k) == (
        CAPTURED, kept.blob, 0, 2, 2,
    )  # fmt: skip
    assert from_packed({"status": "captured", "blob": "!!"}).status == MALFORMED


def test_ids_without_text_are_kept_unchecked_not_misaligned() -> None:
    """vLLM with --return-tokens-as-token-ids writes `token_id:N` for the token and its bytes:
    the ids are right, but only the tokenizer could spell the text to check it."""

    def vllm(token_id: int) -> dict[str, Any]:
        text = f"token_id:{token_id}"
        alternative = {"token": text, "bytes": list(text.encode()), "logprob": -0.1}
        return {**alternative, "top_logprobs": [alternative]}

    captured = capture({"content": [vllm(9906), vllm(1917)]}, 5, raw_content="Hello world",
                       raw_reasoning=None, answer="Hello world")  # fmt: skip

    assert captured is not None and captured.status == UNCHECKED and captured.has_ids
    assert captured.answer_start is None and unpack(captured.blob or b"").ids == [9906, 1917]
