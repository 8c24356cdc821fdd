"""The record filter options of every command that selects dataset records (dataset, refine,
score-tokens, judge, conversations, export, train, eval), spelled once, and the RecordFilter
they make.

A command names the options it takes with ``@filter_options(...)``; they stand in its help
where its ``filters: FilterOptions`` parameter stands, and it receives their values in it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

# The store and the review package load SQLAlchemy: imported when a filter is built, so that
# `--help` stays fast.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from distillset.review import RecordFilter
    from distillset.store import Project

TagFilter = typer.Option(None, "--tag", help="Only this tag and its subtree ('A > B').")
ConfirmedFilter = typer.Option(
    None, "--confirmed/--unconfirmed", help="Only confirmed (or unconfirmed) records."
)
# The plain flag of the commands that cannot ask for unconfirmed records (export, train, eval).
ConfirmedOnlyFilter = typer.Option(False, "--confirmed", help="Only confirmed records.")
ReasoningFilter = typer.Option(
    None, "--has-reasoning/--no-reasoning", help="Only records with (or without) reasoning."
)
ScoredFilter = typer.Option(None, "--scored/--unscored", help="Only scored (or unscored) records.")
MinScoreFilter = typer.Option(None, "--min-score", help="Only records scored at least this.")
MaxScoreFilter = typer.Option(None, "--max-score", help="Only records scored at most this.")
ModelFilter = typer.Option(None, "--model-name", help="Only answers written by this model.")
SearchFilter = typer.Option(None, "--search", help="Text in the question, answer or reasoning.")
LabelFilter = typer.Option(None, "--label", help="Only records carrying this custom label.")

# Option name (a FilterOptions field) -> its type and its typer option.
_OPTIONS: dict[str, tuple[Any, Any]] = {
    "tag": (str | None, TagFilter),
    "confirmed": (bool | None, ConfirmedFilter),
    "confirmed_only": (bool, ConfirmedOnlyFilter),
    "has_reasoning": (bool | None, ReasoningFilter),
    "scored": (bool | None, ScoredFilter),
    "min_score": (float | None, MinScoreFilter),
    "max_score": (float | None, MaxScoreFilter),
    "model_name": (str | None, ModelFilter),
    "search": (str | None, SearchFilter),
    "label": (str | None, LabelFilter),
}
# Every option that selects records by their content, in the order help lists them.
ALL_FILTERS = (
    "tag",
    "confirmed",
    "has_reasoning",
    "scored",
    "min_score",
    "max_score",
    "model_name",
    "search",
    "label",
)
# What export and train take: the records as they leave for a fine-tuning run.
OUTGOING_FILTERS = (
    "confirmed_only",
    "tag",
    "min_score",
    "max_score",
    "has_reasoning",
    "model_name",
    "search",
    "label",
)


@dataclass(frozen=True)
class FilterOptions:
    """The filter options a command was given (``None``: not given; the tag still a path)."""

    tag: str | None = None
    confirmed: bool | None = None
    confirmed_only: bool = False
    has_reasoning: bool | None = None
    scored: bool | None = None
    min_score: float | None = None
    max_score: float | None = None
    model_name: str | None = None
    search: str | None = None
    label: str | None = None

    def record_filter(self, session: Session, project: Project, **more: Any) -> RecordFilter:
        """The RecordFilter these options mean in ``project`` (the tag path resolved), with
        ``more`` of RecordFilter's conditions that a command sets itself (ids, ...)."""
        from distillset import resolve
        from distillset.review import RecordFilter

        return RecordFilter(
            tag_id=resolve.tag_id(session, project, self.tag),
            confirmed=True if self.confirmed_only else self.confirmed,
            has_reasoning=self.has_reasoning,
            scored=self.scored,
            min_score=self.min_score,
            max_score=self.max_score,
            model=self.model_name,
            search=self.search,
            label=self.label,
            **more,
        )


Command = TypeVar("Command", bound=Callable[..., Any])


def filter_options(*names: str) -> Callable[[Command], Command]:
    """Give a command the filter options ``names`` (in this order), in the place of its
    ``filters: FilterOptions`` parameter, which receives their values."""
    unknown = [name for name in names if name not in _OPTIONS]
    if unknown:
        raise ValueError(f"no filter option {unknown[0]!r}")

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        if "filters" not in signature.parameters:
            raise TypeError(f"{command.__name__} has no 'filters' parameter")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name != "filters":
                parameters.append(parameter)
                continue
            parameters.extend(
                inspect.Parameter(
                    name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=_OPTIONS[name][1],
                    annotation=_OPTIONS[name][0],
                )
                for name in names
            )

        @functools.wraps(command)
        def with_filters(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names}
            return command(*args, filters=FilterOptions(**given), **kwargs)

        # Typer reads the parameters from the signature and their types from the annotations.
        with_filters.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_filters.__annotations__ = {
            **{parameter.name: parameter.annotation for parameter in parameters},
            "return": signature.return_annotation,
        }
        return with_filters  # type: ignore[return-value]

    return decorate
