"""The teacher's token text as the student's token ids, for soft labels captured without ids
(vLLM's default and OpenAI send each token's text, not its id).

Only meaningful when the student's tokenizer is the teacher's: ``check_teacher_tokenizer``
decides that from the tokenizer identity the soft labels carry. A token's text maps to the
one vocabulary entry that is exactly its bytes (byte-level BPE: the bytes in the GPT-2
alphabet; other tokenizers: the text encoded alone must give exactly one id); a special
token maps by its text. A record with a token that maps to no single id (or to several) is
trained on hard labels instead, counted by the caller.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from distillset.domain import InvalidInputError

# How the export writes a token it has no text of (vLLM's --return-tokens-as-token-ids), and
# part of a character (vLLM and OpenAI): docs/soft-labels.md.
ID_PREFIX = "token_id:"
BYTES_PREFIX = "bytes:"
_HEX = re.compile(r"\\x([0-9a-fA-F]{2})")
NOT_IN_VOCABULARY = "token text not in the student's vocabulary"


@functools.cache
def _byte_alphabet() -> dict[int, str]:
    """Byte -> the character byte-level BPE vocabularies write it as (GPT-2's mapping)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    alphabet = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in alphabet:
            alphabet[byte] = chr(256 + extra)
            extra += 1
    return alphabet


def token_bytes(text: str) -> bytes | None:
    """A token's bytes from its exported text; None for an id without text."""
    if text.startswith(ID_PREFIX):
        return None
    if text.startswith(BYTES_PREFIX):
        return bytes(int(pair, 16) for pair in _HEX.findall(text))
    return text.encode("utf-8", "surrogatepass")


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    if decoder is None:
        return False
    try:
        state = json.loads(decoder.__getstate__())
    except (TypeError, ValueError, AttributeError):
        return False
    return '"ByteLevel"' in json.dumps(state)


class TokenTextMapper:
    """Token text -> the student's id (None: no single id), cached: texts repeat a lot."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.size = len(tokenizer)
        self._vocab: dict[str, int] = dict(tokenizer.get_vocab())
        self._special: dict[str, int] = dict(tokenizer.get_added_vocab())
        self.byte_level = _is_byte_level(tokenizer)
        self._known: dict[str, int | None] = {}

    def id_of(self, text: str) -> int | None:
        if text not in self._known:
            self._known[text] = self._lookup(text)
        return self._known[text]

    def _lookup(self, text: str) -> int | None:
        if text.startswith(ID_PREFIX):
            value = text[len(ID_PREFIX) :]
            number = int(value) if value.isdigit() else -1
            return number if 0 <= number < self.size else None
        if text in self._special:
            return self._special[text]
        data = token_bytes(text)
        if not data:
            return None
        if self.byte_level:
            alphabet = _byte_alphabet()
            return self._vocab.get("".join(alphabet[byte] for byte in data))
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        ids = self.tokenizer.encode(decoded, add_special_tokens=False)
        unknown = self.tokenizer.unk_token_id
        return int(ids[0]) if len(ids) == 1 and ids[0] != unknown else None

    def with_ids(self, labels: dict[str, Any], *, has_reasoning: bool) -> dict[str, Any] | str:
        """Soft labels given as text, with the answer's tokens and alternatives as ids (the
        answer starting at 0); or why the record must be trained on hard labels."""
        start = labels.get("answer_start")
        if start is None:
            if has_reasoning:
                return "answer start unknown"
            start = 0
        tokens = list(labels.get("tokens") or [])[start:]
        rows = list(labels.get("top_tokens") or [])[start:]
        top_logprobs = labels["top_logprobs"][start:]
        if not tokens or len(rows) != len(tokens) or len(top_logprobs) != len(tokens):
            return "no token ids"
        ids = [self.id_of(token) for token in tokens]
        top_ids = np.zeros(top_logprobs.shape, dtype=np.int32)
        for position, row in enumerate(rows):
            for rank, token in enumerate(row[: top_ids.shape[1]]):
                mapped = self.id_of(token)
                if mapped is None:
                    return NOT_IN_VOCABULARY
                top_ids[position, rank] = mapped
        if any(token_id is None for token_id in ids):
            return NOT_IN_VOCABULARY
        return {
            **labels,
            "answer_start": 0,
            "token_ids": ids,
            "top_ids": top_ids,
            "top_logprobs": top_logprobs,
        }


def has_text_only(labels: dict[str, Any] | None) -> bool:
    """Soft labels with token text and no ids."""
    return bool(labels and not labels.get("token_ids") and labels.get("tokens"))


def _same_name(name: str, student: str, tokenizer: Any) -> bool:
    own = {student, str(getattr(tokenizer, "name_or_path", "") or "")}
    if name in own:
        return True
    paths = {Path(value).expanduser().resolve() for value in own if Path(value).exists()}
    return Path(name).exists() and Path(name).expanduser().resolve() in paths


@functools.lru_cache(maxsize=8)
def _vocabulary_of(name: str) -> dict[str, int] | None:
    """The named tokenizer's vocabulary; None when it cannot be loaded."""
    from transformers import AutoTokenizer

    try:
        return dict(AutoTokenizer.from_pretrained(name).get_vocab())
    except Exception:  # a missing dir, an unknown or unreachable repo id: not comparable
        return None


def check_teacher_tokenizer(
    tokenizer: Any, identity: dict[str, Any], student: str, mismatch: Any
) -> None:
    """Refuse KD on text-only soft labels unless the teacher's tokenizer is the student's:
    the tokenizer the endpoint named (or the repository the server loaded) is the student,
    or loads with the student's vocabulary. ``mismatch(teacher, detail)`` builds the error
    for a different vocabulary."""
    names = [str(identity[key]) for key in ("name", "server_model") if identity.get(key)]
    for name in names:
        if _same_name(name, student, tokenizer):
            return
    vocabulary = dict(tokenizer.get_vocab())
    for name in names:
        theirs = _vocabulary_of(name)
        if theirs is None:
            continue
        if theirs == vocabulary:
            return
        raise mismatch(name, f"their vocabularies differ ({len(theirs)} and {len(vocabulary)})")
    teacher = names[0] if names else "unnamed"
    raise InvalidInputError(
        f"the soft labels give token text without ids, and the teacher's tokenizer ({teacher}) "
        f"could not be compared with the student's ({student}): name it when capturing "
        "(`model set ENDPOINT --tokenizer REPO`), or train with --method sft"
    )
