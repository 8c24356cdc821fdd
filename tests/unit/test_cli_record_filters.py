"""The record filter options, spelled once: a command takes the ones it names, in that order,
and receives their values as one FilterOptions."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from distillset.cli.record_filters import FilterOptions, filter_options


def _app(seen: list[FilterOptions]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @filter_options("confirmed_only", "tag", "min_score")
    def command(
        name: str = typer.Argument(...),
        filters: FilterOptions = FilterOptions(),
        limit: int = typer.Option(5, "--limit"),
    ) -> None:
        seen.append(filters)

    return app


def test_a_command_gets_the_options_it_names_as_one_value() -> None:
    seen: list[FilterOptions] = []
    result = CliRunner().invoke(_app(seen), ["P", "--confirmed", "--tag", "A > B", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert seen == [FilterOptions(confirmed_only=True, tag="A > B")]
    shown = CliRunner().invoke(_app([]), ["--help"], env={"COLUMNS": "200"}).output
    order = [shown.index(option) for option in ("--confirmed", "--tag", "--min-score", "--limit")]
    assert order == sorted(order) and "--unconfirmed" not in shown and "--label" not in shown


def test_an_unknown_option_or_a_command_without_filters_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="no filter option 'colour'"):
        filter_options("colour")
    with pytest.raises(TypeError, match="no 'filters' parameter"):
        filter_options("tag")(lambda name: None)
