"""A tiny student model built on the spot, for tests and benchmarks: no download.

A Qwen2-architecture model (hidden size 64, 2 layers, random weights) with a byte-level BPE
tokenizer trained here on the fake server's words, and a ChatML chat template whose
``{% generation %}`` markers let a trainer mask everything but the assistant's turn. The
fake server can emit soft labels in this tokenizer's vocabulary (``FakeConfig.vocabulary``),
so a test distils, trains with KD and evaluates end to end on one machine.

Needs the ``train`` extra (transformers, tokenizers, torch); imported only on use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from distillset.testing import fake_vocabulary
from distillset.testing.fake_content import answer_for

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
# ChatML as Qwen writes it; the assistant's turn (its reasoning, its answer and the
# end-of-turn token) inside the generation markers, the newline after it outside.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}"
    "{% if message.get('reasoning_content') %}"
    "{{ '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' }}"
    "{% endif %}"
    "{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def training_corpus() -> list[str]:
    """Text like what the fake server writes: its words, questions and answers."""
    texts: list[str] = []
    for name in dir(fake_vocabulary):
        value = getattr(fake_vocabulary, name)
        if name.endswith("_EN") and isinstance(value, tuple):
            for item in value:
                texts.extend(item if isinstance(item, tuple) else [item])
    for label in (*fake_vocabulary.ASPECTS_EN, *fake_vocabulary.FACETS_EN):
        reasoning, answer = answer_for(f"What are the {label.lower()} of rowing?")
        texts += [reasoning, answer]
    return texts


def train_tokenizer(texts: Iterable[str] | None = None, vocab_size: int = 600) -> Any:
    """A byte-level BPE tokenizer (``PreTrainedTokenizerFast``) with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts or training_corpus()), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_student(
    directory: Path, *, hidden_size: int = 64, layers: int = 2, seed: int = 0
) -> Path:
    """Write a tiny random Qwen2 model and its tokenizer to ``directory``; returns it."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = train_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@functools.cache
def _byte_decoder() -> dict[str, int]:
    """The byte-level alphabet's character -> the byte it stands for (GPT-2's mapping)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars, strict=True)}


class TokenizerVocabulary:
    """A byte-level BPE tokenizer's pieces and ids, for the fake server's soft labels."""

    def __init__(self, directory: str) -> None:
        from tokenizers import Tokenizer

        self.directory = directory
        self._tokenizer = Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
        decoder = _byte_decoder()
        self._bytes: dict[int, bytes] = {}
        self._ids: dict[bytes, int] = {}
        for token, token_id in self._tokenizer.get_vocab().items():
            if all(char in decoder for char in token):
                data = bytes(decoder[char] for char in token)
                self._bytes[token_id] = data
                self._ids.setdefault(data, token_id)
        self.size = self._tokenizer.get_vocab_size()

    def pieces(self, text: str) -> list[bytes]:
        """The text as the tokenizer cuts it; the pieces concatenate to its UTF-8."""
        ids = self._tokenizer.encode(text, add_special_tokens=False).ids
        return [self._bytes[token_id] for token_id in ids]

    def id_of(self, token: bytes) -> int | None:
        return self._ids.get(token)
