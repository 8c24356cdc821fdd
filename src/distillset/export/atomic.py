"""Files that appear under their final name only when complete.

Each output is written to a hidden temporary file next to its final path (same directory,
so the rename is atomic) and renamed only when the whole export succeeded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path


class PendingPath:
    """A temporary sibling of ``final`` that becomes ``final`` on :meth:`commit`."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.partial")

    def commit(self) -> None:
        if self.temp.is_dir() and self.final.exists():
            # A directory cannot replace another atomically: move the old one aside first.
            old = self.final.with_name(f".{self.final.name}.{uuid.uuid4().hex[:8]}.old")
            self.final.rename(old)
            self.temp.rename(self.final)
            shutil.rmtree(old, ignore_errors=True)
            return
        os.replace(self.temp, self.final)

    def discard(self) -> None:
        if self.temp.is_dir():
            shutil.rmtree(self.temp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.temp.unlink()
