"""The KD loss on top-K soft labels: dense when K covers the vocabulary, the documented tail
bucket when it does not, plain cross-entropy at alpha = 0."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from distillset.train.kd_loss import IGNORE, kd_loss  # noqa: E402

VOCAB = 11


def _batch(seed: int = 0, n: int = 6):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, VOCAB, generator=generator) * 2
    teacher_logits = torch.randn(n, VOCAB, generator=generator) * 2
    labels = torch.randint(0, VOCAB, (n,), generator=generator)
    return logits, teacher_logits, labels


def _dense_kl(student_logits, teacher_logits, temperature):
    teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    student = F.log_softmax(student_logits / temperature, dim=-1)
    return (teacher.exp() * (teacher - student)).sum(-1)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5])
def test_full_vocabulary_equals_the_dense_reference(temperature: float) -> None:
    logits, teacher_logits, labels = _batch()
    teacher = F.log_softmax(teacher_logits, dim=-1)
    top_logprobs, top_ids = teacher.sort(dim=-1, descending=True)
    alpha = 0.7
    parts = kd_loss(logits, labels, top_ids, top_logprobs, alpha=alpha, temperature=temperature)
    kl = _dense_kl(logits, teacher_logits, temperature)
    ce = F.cross_entropy(logits, labels, reduction="none")
    expected = (alpha * temperature**2 * kl + (1 - alpha) * ce).mean()
    assert parts.loss.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)
    assert parts.soft_tokens == len(labels)
    # The renormalized form is the same when nothing is outside the top K.
    renormalized = kd_loss(
        logits, labels, top_ids, top_logprobs, alpha=alpha, temperature=temperature,
        tail="renormalize",
    )  # fmt: skip
    assert renormalized.loss.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)


def test_top_k_puts_the_rest_in_one_tail_bucket() -> None:
    logits, teacher_logits, labels = _batch(seed=1)
    k, temperature = 3, 2.0
    teacher = F.log_softmax(teacher_logits, dim=-1)
    top_logprobs, top_ids = teacher.topk(k, dim=-1)
    parts = kd_loss(logits, labels, top_ids, top_logprobs, alpha=1.0, temperature=temperature)
    # The documented reference, written out position by position.
    total = 0.0
    for row in range(len(labels)):
        p = top_logprobs[row].exp().tolist()
        p.append(max(0.0, 1 - sum(p)))
        tempered = [x ** (1 / temperature) for x in p]
        q_teacher = [x / sum(tempered) for x in tempered]
        student = F.softmax(logits[row] / temperature, dim=-1)
        s = student[top_ids[row]].tolist()
        s.append(1 - sum(s))
        kl = sum(a * math.log(a / b) for a, b in zip(q_teacher, s, strict=True) if a > 0)
        total += temperature**2 * kl
    assert parts.loss.item() == pytest.approx(total / len(labels), rel=1e-4)


def test_alpha_zero_is_cross_entropy_and_masks_are_ignored() -> None:
    logits, teacher_logits, labels = _batch(seed=2)
    labels[0] = IGNORE
    top_logprobs, top_ids = F.log_softmax(teacher_logits, dim=-1).topk(4, dim=-1)
    parts = kd_loss(logits, labels, top_ids, top_logprobs, alpha=0.0, temperature=2.0)
    expected = F.cross_entropy(logits, labels, ignore_index=IGNORE)
    assert parts.loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_positions_without_soft_labels_get_cross_entropy_only() -> None:
    logits, teacher_logits, labels = _batch(seed=3)
    top_logprobs, top_ids = F.log_softmax(teacher_logits, dim=-1).topk(4, dim=-1)
    top_logprobs[2:] = float("-inf")  # positions 2.. have no soft labels
    top_logprobs[0, 3] = float("-inf")  # an alternative padded out
    parts = kd_loss(logits, labels, top_ids, top_logprobs, alpha=0.5, temperature=1.0)
    assert (parts.soft_tokens, parts.hard_tokens) == (2, len(labels) - 2)
    ce = F.cross_entropy(logits, labels, reduction="none")
    only_soft = kd_loss(
        logits[:2], labels[:2], top_ids[:2], top_logprobs[:2], alpha=0.5, temperature=1.0
    )
    expected = (only_soft.loss * 2 + ce[2:].sum()) / len(labels)
    assert parts.loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_gradient_is_finite_when_the_ids_cover_everything() -> None:
    logits, teacher_logits, labels = _batch(seed=4)
    logits.requires_grad_(True)
    top_logprobs, top_ids = F.log_softmax(teacher_logits, dim=-1).sort(dim=-1, descending=True)
    kd_loss(logits, labels, top_ids, top_logprobs, alpha=0.9, temperature=2.0).loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_chunks_give_the_same_loss_and_gradient() -> None:
    logits, teacher_logits, labels = _batch(seed=5, n=9)
    labels[4] = IGNORE
    top_logprobs, top_ids = F.log_softmax(teacher_logits, dim=-1).topk(3, dim=-1)
    top_logprobs[6] = float("-inf")  # one position without soft labels
    results = []
    for chunk in (None, 2):
        leaf = logits.clone().requires_grad_(True)
        parts = kd_loss(
            leaf, labels, top_ids, top_logprobs, alpha=0.6, temperature=2.0, chunk_tokens=chunk
        )
        parts.loss.backward()
        results.append((parts, leaf.grad))
    (whole, whole_grad), (chunked, chunked_grad) = results
    assert chunked.loss.item() == pytest.approx(whole.loss.item(), rel=1e-6)
    assert (chunked.soft_tokens, chunked.hard_tokens) == (whole.soft_tokens, whole.hard_tokens)
    assert torch.allclose(chunked_grad, whole_grad, atol=1e-6)
