"""Whether the web offers batch answers: only for an answer endpoint set up for the provider's
batch interface (its batch discount set, 0 where the provider gives none).

Nothing can tell from outside whether a server takes `/v1/batches` short of trying it, and a
run against one that does not fails only after it has started. The endpoint's batch discount
is its batch setting (the price of a batched request), so the pages show the batch checkbox
where it is set, and otherwise a note linking to that field; a request that asks for batches
anyway is refused before any task is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from distillset.domain import SettingRequired
from distillset.store import Project


@dataclass(frozen=True)
class BatchSupport:
    alias: str | None  # the project's answer endpoint (None: no answer model chosen)
    ready: bool  # set up for the batch interface

    def field_id(self) -> str:
        """The id of the settings field that sets the endpoint up (see _endpoints.html)."""
        return f"batch_discount-{self.alias}" if self.alias else "answer_model"  # errors.py


def batch_support(project: Project) -> BatchSupport:
    endpoint = project.answer_model
    if endpoint is None:
        return BatchSupport(None, False)
    return BatchSupport(endpoint.alias, endpoint.batch_discount is not None)


def check_batch(project: Project) -> None:
    """Refuse batch answers through an answer endpoint not set up for them (a missing
    answer model is left to the job's own refusal, which says how to choose one)."""
    support = batch_support(project)
    if support.alias is not None and not support.ready:
        raise SettingRequired(
            f"the answer model {support.alias!r} is not set up for the batch interface "
            "(answer without batch, or set its batch discount: 0 where the provider gives none)",
            setting=support.field_id(),
            cli_fix=f"`distillset model set {support.alias} --batch-discount 0`",
        )
