"""An empty database of this release's schema for an in-process test office.

Creating the tables and indexes is most of what setting up such an office costs, and the fast lane sets up
about a thousand of them: the database is made once per test process, through `models.connect` as the daemon
makes it, and each office gets a copy of the file. Tests of creating and upgrading a database
(test_migrations.py) do not use it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from daemon import models


@functools.cache
def _made_once() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="officeflow-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "db.sqlite"
    models.connect(f"sqlite:///{path}")
    models.close()               # the last connection checkpoints the WAL: the file alone is the database
    return path


def lay(path: Path) -> None:
    """Put an empty database of the current schema at `path` (which must not exist yet)."""
    if path.exists():
        raise FileExistsError(path)
    shutil.copyfile(_made_once(), path)
