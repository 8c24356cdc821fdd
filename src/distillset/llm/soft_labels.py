"""Soft labels: the teacher's top-K distribution at every generated token, and their compact
binary form.

One record's soft labels are packed into one self-contained blob (no table to look tokens up
in): a small header, then zlib over columns of little-endian arrays: the number of alternatives
at each position, token ids where the server gave them (int32), logprobs as float16, and the
tokens' exact bytes (lengths, then the bytes). Measured on a llama.cpp server at k=20 this is
about 100 bytes per generated token, against ~1.9 KB of JSON as the server sends it
(`bench/soft_labels.py`). Token strings compress well inside one record (the same few hundred
alternatives recur), so a vocabulary table would save little and cost a shared write.
"""

from __future__ import annotations

import array
import math
import struct
import sys
import zlib
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# A header of: magic, format version, flags, tokens, k (the alternatives asked for).
_HEADER = struct.Struct("<2sBBIH")
_MAGIC = b"SL"
_VERSION = 1
_HAS_IDS = 1
# Bounds that keep a hostile reply from making a huge blob (or a huge unpack).
MAX_TOKENS = 1_000_000
MAX_K = 1_000
MAX_TOKEN_BYTES = 1_024
# float16 holds logprobs down to about -65504; anything lower is "no mass".
_F16_LOWEST = -65504.0

# What became of the soft labels asked for with an answer.
CAPTURED = "captured"  # stored, and the tokens spell the stored text
MISALIGNED = "misaligned"  # stored, but the tokens do not spell the stored text
UNCHECKED = "unchecked"  # stored as ids without text (vLLM's `token_id:N`): not checkable
ABSENT = "absent"  # asked for, the server sent none
REFUSED = "refused"  # the server refused the request for them: asked again without
MALFORMED = "malformed"  # the server sent something that is not logprobs: nothing stored
WITHHELD = "withheld"  # the tokens spell the endpoint's key: nothing stored
STATUSES = (CAPTURED, MISALIGNED, UNCHECKED, ABSENT, REFUSED, MALFORMED, WITHHELD)
STORED = (CAPTURED, MISALIGNED, UNCHECKED)


class SoftLabelError(ValueError):
    """A blob that is not packed soft labels (damaged, or from a newer distillset)."""


@dataclass(frozen=True)
class SoftLabels:
    """Per generated token: its bytes, id (when the server gave ids), logprob, and the top-K
    alternatives (bytes, ids, logprobs), best first; ``k`` is the most any token got. Ids
    are all given or all None."""

    k: int
    tokens: list[bytes]
    ids: list[int] | None
    logprobs: list[float]
    top_tokens: list[list[bytes]]
    top_ids: list[list[int]] | None
    top_logprobs: list[list[float]]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def text_bytes(self) -> bytes:
        """The generated text as the tokens spell it."""
        return b"".join(self.tokens)


@dataclass(frozen=True, slots=True)
class SoftLabelCapture:
    """What an answer keeps of the soft labels asked with it: its status (see STATUSES) and,
    when stored, the packed blob; ``answer_start`` is the token where the answer begins
    (after the reasoning), None when the tokens do not spell the text."""

    status: str
    blob: bytes | None = field(default=None, repr=False)
    tokens: int = 0
    k: int = 0
    has_ids: bool = False
    answer_start: int | None = None
    detail: str | None = None  # why nothing is stored: the server's refusal, what was wrong

    @property
    def stored(self) -> bool:
        return self.blob is not None


def _ints(typecode: str, values: list[int]) -> bytes:
    packed = array.array(typecode, values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _read_ints(typecode: str, data: bytes) -> list[int]:
    unpacked = array.array(typecode)
    unpacked.frombytes(data)
    if sys.byteorder == "big":
        unpacked.byteswap()
    return unpacked.tolist()


def _halves(values: list[float]) -> bytes:
    try:
        return struct.pack(f"<{len(values)}e", *values)
    except OverflowError:  # -inf (no mass) packs; a finite value below range is its lowest
        clamped = [value if value == -math.inf else max(value, _F16_LOWEST) for value in values]
        return struct.pack(f"<{len(clamped)}e", *clamped)


def _lengths_and_bytes(tokens: list[bytes]) -> tuple[bytes, bytes]:
    return _ints("H", [len(token) for token in tokens]), b"".join(tokens)


def pack(labels: SoftLabels) -> bytes:
    """The blob of one record's soft labels."""
    count = len(labels.tokens)
    flat_tokens = [token for row in labels.top_tokens for token in row]
    flat_logprobs = [value for row in labels.top_logprobs for value in row]
    parts = [_ints("H", [len(row) for row in labels.top_tokens])]
    if labels.ids is not None and labels.top_ids is not None:
        parts.append(_ints("i", labels.ids))
        parts.append(_ints("i", [token_id for row in labels.top_ids for token_id in row]))
    parts.append(_halves(labels.logprobs))
    parts.append(_halves(flat_logprobs))
    for tokens in (labels.tokens, flat_tokens):
        lengths, joined = _lengths_and_bytes(tokens)
        parts += [lengths, joined]
    flags = _HAS_IDS if labels.ids is not None else 0
    header = _HEADER.pack(_MAGIC, _VERSION, flags, count, labels.k)
    return header + zlib.compress(b"".join(parts), 6)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._at = 0

    def take(self, size: int) -> bytes:
        if self._at + size > len(self._data):
            raise SoftLabelError("the soft labels blob is cut short")
        chunk = bytes(self._data[self._at : self._at + size])
        self._at += size
        return chunk

    def tokens(self, count: int) -> list[bytes]:
        lengths = _read_ints("H", self.take(2 * count))
        joined = self.take(sum(lengths))
        tokens: list[bytes] = []
        start = 0
        for length in lengths:
            tokens.append(joined[start : start + length])
            start += length
        return tokens

    def halves(self, count: int) -> list[float]:
        return list(struct.unpack(f"<{count}e", self.take(2 * count)))

    def done(self) -> bool:
        return self._at == len(self._data)


def _rows(flat: list[T], counts: list[int]) -> list[list[T]]:
    rows: list[list[T]] = []
    start = 0
    for count in counts:
        rows.append(flat[start : start + count])
        start += count
    return rows


def unpack(blob: bytes) -> SoftLabels:
    """The soft labels a blob holds; SoftLabelError when it is not one."""
    if len(blob) < _HEADER.size:
        raise SoftLabelError("the soft labels blob is cut short")
    magic, version, flags, count, k = _HEADER.unpack_from(blob)
    if magic != _MAGIC or version != _VERSION:
        raise SoftLabelError("not a soft labels blob of this distillset version")
    try:
        reader = _Reader(zlib.decompress(blob[_HEADER.size :]))
    except zlib.error as exc:
        raise SoftLabelError(f"the soft labels blob is damaged ({exc})") from None
    counts = _read_ints("H", reader.take(2 * count))
    total = sum(counts)
    ids = top_ids = None
    if flags & _HAS_IDS:
        ids = _read_ints("i", reader.take(4 * count))
        top_ids = _rows(_read_ints("i", reader.take(4 * total)), counts)
    logprobs = reader.halves(count)
    top_logprobs = _rows(reader.halves(total), counts)
    tokens = reader.tokens(count)
    top_tokens = _rows(reader.tokens(total), counts)
    if not reader.done():
        raise SoftLabelError("the soft labels blob has trailing bytes")
    return SoftLabels(
        k=k,
        tokens=tokens,
        ids=ids,
        logprobs=logprobs,
        top_tokens=top_tokens,
        top_ids=top_ids,
        top_logprobs=top_logprobs,
    )


def token_text(token: bytes) -> str:
    """A token as text: its UTF-8, or for a token that is part of a character (byte-level
    tokenizers split some), `bytes:\\xe2\\x80` as vLLM and OpenAI write such tokens."""
    try:
        return token.decode("utf-8")
    except UnicodeDecodeError:
        return "bytes:" + "".join(f"\\x{byte:02x}" for byte in token)
