"""Start-up of the command line: `distillset --help` against the `--help` of a minimal
two-command Typer app, as a ratio of wall times (target: 1.5 or less).

The minimal app is written to a temporary file; both run as fresh `python` processes in
interleaved rounds (so a busy moment of the machine hits both), and the medians are compared.

    .venv/bin/python bench/cli_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL_APP = '''
import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def hello(name: str, loud: bool = typer.Option(False, "--loud", help="Shout.")) -> None:
    """Say hello."""
    print(name.upper() if loud else name)


@app.command()
def bye() -> None:
    """Say goodbye."""
    print("bye")


app()
'''


def wall_time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        minimal = Path(folder) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        # A fresh home: the help must not need one, and no user data is touched.
        env = {**os.environ, "DISTILLSET_HOME": str(Path(folder) / "home"), "COLUMNS": "100"}
        commands = {
            "distillset --help": [sys.executable, "-m", "distillset", "--help"],
            "minimal --help": [sys.executable, str(minimal), "--help"],
        }
        for command in commands.values():  # warm the file cache and the bytecode
            wall_time(command, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(wall_time(command, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<20} median {median * 1000:7.1f} ms over {args.rounds} rounds")
    ratio = medians["distillset --help"] / medians["minimal --help"]
    print(f"ratio                {ratio:7.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
