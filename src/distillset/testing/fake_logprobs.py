"""The fake model's log-probabilities: its reply cut into tokens, each with a logprob and the
top-K alternatives, in the shape llama.cpp's server sends (`id`, `token`, `bytes`, `logprob`,
`top_logprobs`); without `id` it is the shape of vLLM and OpenAI.

Words (with their leading spaces) and punctuation are tokens; a CJK character is split in two
tokens of raw bytes, as byte-level tokenizers split rare characters, so a token's `token`
text can be a replacement character while its `bytes` are exact. With the reasoning in its own
field, the tokens spell the reasoning, the `</think>` a reasoning parser cut out, then the
content: what vLLM's reasoning parsers return. With ``FakeConfig.vocabulary`` naming a
tokenizer (testing.tiny_student), the tokens and ids are that tokenizer's instead, so a
student sharing it can be trained on the soft labels.
"""

from __future__ import annotations

import functools
import json
import math
import re
import zlib
from typing import Any, Protocol

from aiohttp import web

_PIECES = re.compile(r"\s*[\u3400-\u9fff]|\s*\w+|\s*[^\w\s]|\s+")
_CJK = re.compile(r"\s*[\u3400-\u9fff]")
END_OF_THINKING = "\n</think>\n\n"
# Alternatives offered at every position, besides the sampled token.
_WORDS = "the of and a to in is that for it with as on be by this are or can an at from which"
_COMMON = (",", ".", *(f" {word}" for word in f"{_WORDS} not have but more one also".split()))


def pieces(text: str) -> list[bytes]:
    """The text as token bytes; they concatenate to its UTF-8."""
    tokens: list[bytes] = []
    for piece in _PIECES.findall(text):
        data = piece.encode("utf-8")
        if _CJK.fullmatch(piece):
            tokens += [data[:-1], data[-1:]]  # the character's last byte on its own
        else:
            tokens.append(data)
    return tokens


def _token_id(token: bytes) -> int:
    return 100 + zlib.crc32(token) % 250_000


class WordVocabulary:
    """The fake model's own tokens: words and punctuation, ids from a checksum."""

    size = 250_100  # the ids stay below it

    def pieces(self, text: str) -> list[bytes]:
        return pieces(text)

    def id_of(self, token: bytes) -> int | None:
        return _token_id(token)


class Vocabulary(Protocol):
    size: int

    def __hash__(self) -> int: ...

    def pieces(self, text: str) -> list[bytes]: ...

    def id_of(self, token: bytes) -> int | None: ...


WORDS = WordVocabulary()


@functools.cache
def vocabulary_at(directory: str | None) -> Vocabulary:
    """The vocabulary replies are cut in: the fake words, or a real tokenizer's (the
    directory of its tokenizer.json, as testing.tiny_student writes it)."""
    if directory is None:
        return WORDS
    from distillset.testing.tiny_student import TokenizerVocabulary

    return TokenizerVocabulary(directory)


def _entry(token: bytes, logprob: float, ids: bool, vocab: Vocabulary) -> dict[str, Any]:
    entry: dict[str, Any] = {"token": token.decode("utf-8", "replace"), "logprob": logprob}
    entry["bytes"] = list(token)
    if ids:
        entry["id"] = vocab.id_of(token)
    return entry


@functools.lru_cache(maxsize=65536)
def token_logprobs(token: bytes, k: int, ids: bool, vocab: Vocabulary = WORDS) -> dict[str, Any]:
    """One generated token's entry: its logprob, then the ``k`` most likely tokens, best first.
    The probabilities are a real distribution: the sampled token's, then halves of the rest.
    Cached (a token always gets the same entry): the server answers fast at any k."""
    seed = zlib.crc32(token)
    sampled = 0.3 + (seed % 70) / 100
    choices = [(token, sampled)]
    rest = 1.0 - sampled
    for common in _COMMON:
        if len(choices) >= max(k, 1):
            break
        if common.encode() != token and vocab.id_of(common.encode()) is not None:
            rest /= 2
            choices.append((common.encode(), rest))
    ranked = sorted(choices, key=lambda choice: -choice[1])[:k]
    top = [_entry(text, round(math.log(p), 6), ids, vocab) for text, p in ranked]
    return {**_entry(token, round(math.log(sampled), 6), ids, vocab), "top_logprobs": top}


@functools.lru_cache(maxsize=65536)
def _entry_json(token: bytes, k: int, ids: bool, vocab: Vocabulary) -> str:
    return json.dumps(token_logprobs(token, k, ids, vocab))


class LogprobsJson(str):
    """A choice's `logprobs` as JSON text, built from cached entries: the server writes a
    reply of thousands of entries without serializing them again (see reply_json)."""


def _logprobs_json(tokens: list[bytes], k: int, ids: bool, vocab: Vocabulary) -> LogprobsJson:
    entries = ",".join(_entry_json(t, k, ids, vocab) for t in tokens)
    return LogprobsJson('{"content":[' + entries + "]}")


_PLACEHOLDER = "\x00logprobs\x00"


def reply_json(body: dict[str, Any], *, ensure_ascii: bool = True) -> str:
    """A reply body (or a streamed chunk) as JSON, its LogprobsJson put in as it is. ASCII
    by default, as aiohttp's json_response writes it: a lone surrogate stays an escape."""
    choices = body.get("choices") or [{}]
    logprobs = choices[0].get("logprobs")
    if not isinstance(logprobs, LogprobsJson):
        return json.dumps(body, ensure_ascii=ensure_ascii)
    choices[0]["logprobs"] = _PLACEHOLDER
    try:
        text = json.dumps(body, ensure_ascii=ensure_ascii)
    finally:
        choices[0]["logprobs"] = logprobs
    return text.replace(json.dumps(_PLACEHOLDER), logprobs, 1)


def generated_parts(message: dict[str, Any]) -> list[tuple[str, str]]:
    """What the tokens spell, part by part: (the field a streamed chunk carries it in, text).
    The end of thinking is in no field: a reasoning parser cut it out."""
    for field in ("reasoning_content", "reasoning"):
        if message.get(field):
            thinking = [(field, str(message[field])), ("", END_OF_THINKING)]
            return [*thinking, ("content", message.get("content") or "")]
    return [("content", message.get("content") or "")]


def _tokens(parts: list[tuple[str, str]], vocab: Vocabulary) -> list[tuple[str, bytes]]:
    return [(field, token) for field, text in parts for token in vocab.pieces(text)]


def logprobs_of(
    message: dict[str, Any], k: int, ids: bool, mode: str, vocab: Vocabulary = WORDS
) -> Any:
    """The choice's `logprobs` for a reply (see FakeConfig.logprobs_mode)."""
    if mode == "malformed":
        return {"content": [{"token": "x", "logprob": "very likely"}]}
    parts = generated_parts(message)
    if mode == "misaligned":
        parts = [(field, text.upper()) for field, text in parts] + [("content", " (and more)")]
    return _logprobs_json([token for _, token in _tokens(parts, vocab)], k, ids, vocab)


def logprobs_asked(body: dict[str, Any]) -> int | None:
    """The top K a request asks for, or None when it asks for no logprobs."""
    if not body.get("logprobs"):
        return None
    k = body.get("top_logprobs")
    return k if isinstance(k, int) and not isinstance(k, bool) else 0


def logprobs_refusal(body: dict[str, Any], mode: str, cap: int | None) -> web.Response | None:
    """The 400 a server answers to a request for logprobs it does not give (as vLLM and
    OpenAI word it), or None."""
    k = logprobs_asked(body)
    if k is None:
        return None
    if mode == "refuse":
        message = "logprobs is not supported with this model"
    elif k < 0:
        message = "`top_logprobs` must be a positive value."
    elif cap is not None and k > cap:
        message = f"Requested sample logprobs of {k}, which is greater than max allowed: {cap}"
    else:
        return None
    error = {"message": message, "type": "invalid_request_error", "code": "invalid_value"}
    return web.json_response({"error": error}, status=400)


def stream_groups(
    message: dict[str, Any], k: int, ids: bool, vocab: Vocabulary = WORDS
) -> list[tuple[str, str, Any]]:
    """A streamed reply with logprobs: (field, text, logprobs) per chunk, a chunk holding whole
    characters (a character split in two tokens comes in one chunk with both)."""
    groups: list[tuple[str, str, Any]] = []
    pending: list[bytes] = []
    for field, token in _tokens(generated_parts(message), vocab):
        pending.append(token)
        try:
            text = b"".join(pending).decode("utf-8")
        except UnicodeDecodeError:
            continue
        groups.append((field, text, _logprobs_json(pending, k, ids, vocab)))
        pending = []
    return groups


def chat_template(messages: list[dict[str, Any]], *, continue_final: bool) -> str:
    """The fake model's chat template: each turn as `<|role|>` and its text; the last
    assistant turn left open when it is to be continued (vLLM's continue_final_message)."""
    turns = [f"<|{m.get('role')}|>\n{m.get('content') or ''}" for m in messages]
    text = "<|end|>\n".join(turns)
    return text if continue_final else text + "<|end|>\n<|assistant|>\n"


def prompt_logprobs_of(messages: list[dict[str, Any]], k: int, continue_final: bool) -> list[Any]:
    """vLLM's `prompt_logprobs`: None for the first token of the templated prompt, then per
    token a dict of token id -> {logprob, rank, decoded_token}: the top ``k`` by rank, and
    the prompt's own token added last with rank k + 1 when it is not among them (as
    vLLM's LogprobsProcessor builds it)."""
    tokens = pieces(chat_template(messages, continue_final=continue_final))
    scored: list[Any] = [None]
    for token in tokens[1:]:
        entry = token_logprobs(token, k, True)
        row = {
            str(alternative["id"]): {
                "logprob": alternative["logprob"],
                "rank": rank,
                "decoded_token": alternative["token"],
            }
            for rank, alternative in enumerate(entry["top_logprobs"], 1)
        }
        if str(entry["id"]) not in row:
            row[str(entry["id"])] = {
                "logprob": entry["logprob"],
                "rank": k + 1,
                "decoded_token": entry["token"],
            }
        scored.append(row)
    return scored
