"""The short soak in CI: two SIGKILLs of `distillset auto` with faults, then resume and check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_short_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    command = [sys.executable, str(SOAK), "--kills", "2", "--tags", "3", "--questions", "3"]
    env = os.environ | {"TMPDIR": str(tmp_path)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=280)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "PASS: nothing lost" in done.stdout, report
    assert "kills that hit a running process: 2 of 2" in done.stdout, report
