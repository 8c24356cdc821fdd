"""The knowledge-distillation loss on captured soft labels (docs/soft-labels.md).

Per assistant token with soft labels: ``alpha · T² · KL(teacher_T ‖ student_T) + (1 − alpha) ·
CE``; per assistant token without them: ``CE`` alone; the mean over all labelled tokens. The
teacher is known only over its top K (log-probabilities at temperature 1). The mass outside
them, ``1 − Σ exp(top_logprobs)``, is one "tail" bucket, compared with the student's mass
outside the same ids (``tail="bucket"``; a tail under ``TAIL_FLOOR`` is rounding and
counts as empty); or the teacher is renormalized over its top K and the
student over the same ids (``tail="renormalize"``). At temperature T, each side's buckets are
tempered: the teacher's bucket log-masses divided by T and renormalized, the student's logits
divided by T. When the top K cover the vocabulary, the tail is empty and the loss is the dense
``KL(softmax(teacher / T) ‖ softmax(student / T))``.

Pure torch; imported only by the trainer (the CLI never loads torch at start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

IGNORE = -100
TAILS = ("bucket", "renormalize")
# A teacher tail below this is rounding, not mass: logprobs are stored as float16 (about three
# significant digits), and a temperature above 1 would blow such noise up (1e-6 at T = 2
# becomes 1e-3 of the tempered mass).
TAIL_FLOOR = 1e-3


@dataclass(frozen=True)
class KDParts:
    """The loss and its parts (for logging): mean KL and CE over the tokens they cover."""

    loss: torch.Tensor
    kl: torch.Tensor
    ce: torch.Tensor
    soft_tokens: int
    hard_tokens: int


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 − exp(x)) for x ≤ 0, stable at both ends (−inf where x = 0)."""
    x = x.clamp(max=0.0)
    near = x > -0.6931
    # Each branch sees only inputs it is stable on, so no inf reaches a gradient.
    a = torch.log(-torch.expm1(torch.where(near, x, torch.full_like(x, -1.0))))
    b = torch.log1p(-torch.exp(torch.where(near, torch.full_like(x, -1.0), x)))
    return torch.where(near, a, b)


def _teacher_buckets(top_logprobs: torch.Tensor, tail: str, temperature: float) -> torch.Tensor:
    """The teacher's log-probabilities at temperature T over its top K (then the tail)."""
    if tail == "bucket":
        top = top_logprobs.clamp(max=0.0)
        mass = torch.logsumexp(top, dim=-1, keepdim=True)
        rest = _log1mexp(mass)
        rest = rest.masked_fill(rest < math.log(TAIL_FLOOR), float("-inf"))
        top = torch.cat([top, rest], dim=-1)
    else:
        top = top_logprobs
    return F.log_softmax(top / temperature, dim=-1)


def _student_buckets(
    log_probs: torch.Tensor, top_ids: torch.Tensor, valid: torch.Tensor, tail: str
) -> torch.Tensor:
    """The student's log-probabilities (already at temperature T) over the teacher's ids."""
    top = log_probs.gather(-1, top_ids).masked_fill(~valid, float("-inf"))
    if tail == "bucket":
        # Kept just below 1, so the tail's gradient stays finite when the ids cover it all.
        mass = torch.logsumexp(top, dim=-1, keepdim=True).clamp(max=-1e-7)
        return torch.cat([top, _log1mexp(mass)], dim=-1)
    return top - torch.logsumexp(top, dim=-1, keepdim=True)


def _kl(teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
    """KL(teacher ‖ student) over the last axis; a bucket the teacher gives no mass adds 0."""
    p = teacher.exp()
    terms = torch.where(p > 0, p * (teacher - student.clamp(min=-1e4)), torch.zeros_like(p))
    return terms.sum(-1)


def _token_sums(
    logits: torch.Tensor,
    rows: torch.Tensor,
    labels: torch.Tensor,
    top_ids: torch.Tensor | None,
    top_logprobs: torch.Tensor | None,
    alpha: float,
    temperature: float,
    tail: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Over the positions ``rows``: the sums of the loss, of CE, of KL, and the count of
    positions with soft labels (a tensor, so a checkpointed chunk returns tensors only)."""
    chunk = logits.index_select(0, rows).float()
    targets = labels.index_select(0, rows)
    ce = F.cross_entropy(chunk, targets, reduction="none")
    if top_ids is None or top_logprobs is None or alpha == 0:
        zero = ce.new_zeros(())
        return ce.sum(), ce.sum(), zero, zero
    top_logprobs = top_logprobs.index_select(0, rows).float()
    valid = torch.isfinite(top_logprobs)
    soft = valid.any(-1)
    student = F.log_softmax(chunk[soft] / temperature, dim=-1)
    teacher = _teacher_buckets(top_logprobs[soft], tail, temperature)
    ids = top_ids.index_select(0, rows)[soft].clamp(min=0)
    kl = _kl(teacher, _student_buckets(student, ids, valid[soft], tail))
    per_token = ce.clone()
    per_token[soft] = alpha * temperature**2 * kl + (1 - alpha) * ce[soft]
    return per_token.sum(), ce.sum(), kl.sum(), soft.sum().to(ce.dtype)


def kd_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    top_ids: torch.Tensor | None,
    top_logprobs: torch.Tensor | None,
    *,
    alpha: float,
    temperature: float,
    tail: str = "bucket",
    chunk_tokens: int | None = None,
) -> KDParts:
    """The loss of one batch, positions already aligned (shift before calling).

    ``logits`` [N, V] predict ``labels`` [N] (``IGNORE``: not trained). ``top_ids`` and
    ``top_logprobs`` [N, K] are the teacher's top K for each label position; an alternative
    padded out has logprob −inf, and a position without soft labels has all −inf.

    The float32 copies of the logits this takes (several [tokens, vocabulary] tensors) are
    made ``chunk_tokens`` positions at a time, each chunk recomputed in the backward pass
    instead of kept (None: as many as keep a chunk's copy near 512 MB).
    """
    if tail not in TAILS:
        raise ValueError(f"tail is one of {', '.join(TAILS)}, not {tail!r}")
    rows = (labels != IGNORE).nonzero().squeeze(-1)
    if rows.numel() == 0:
        zero = logits.sum() * 0  # keeps the graph: a batch with nothing to train on
        return KDParts(zero, zero.detach(), zero.detach(), 0, 0)
    size = chunk_tokens or max(1, 2**27 // logits.shape[-1])
    args = (labels, top_ids, top_logprobs, alpha, temperature, tail)
    totals = [logits.new_zeros((), dtype=torch.float32) for _ in range(4)]
    for part in rows.split(size):
        if logits.requires_grad and part.numel() < rows.numel():
            sums = checkpoint(_token_sums, logits, part, *args, use_reentrant=False)
        else:
            sums = _token_sums(logits, part, *args)
        totals = [total + value for total, value in zip(totals, sums, strict=True)]
    loss, ce, kl, soft = totals
    count, soft_count = rows.numel(), int(soft.item())
    return KDParts(
        loss=loss / count,
        kl=(kl / soft_count).detach() if soft_count else kl.detach(),
        ce=(ce / count).detach(),
        soft_tokens=soft_count,
        hard_tokens=count - soft_count,
    )
