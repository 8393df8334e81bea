"""The run directory: one run at a time (a lock), and outputs that appear together or not at all.

:func:`run_lock` holds an exclusive ``flock`` on ``<run_dir>/.lock`` for the duration of a run;
a second run into the same directory fails at once. :func:`staged_outputs` gives a temporary
folder inside the run directory to write the outputs into; when the writing succeeds, they are
renamed into place (replacing the previous run's), and when it fails, the temporary folder is
removed and the previous outputs are left as they were. ``cache/`` is not an output: cells are
cached as they finish, so a killed run resumes.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mspgt_bench.atomic import inside

LOCK = ".lock"
STAGING_PREFIX = ".outputs-"


class RunDirBusyError(RuntimeError):
    """Another run holds the lock of the run directory."""


@contextmanager
def run_lock(run_dir: Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` (created if missing) until the block ends.

    Non-blocking: raises :class:`RunDirBusyError` naming the directory and the fix if another run
    (in any process) holds it. Once held, output folders left by a killed run are removed.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirBusyError(
                f"{run_dir} is in use by another mspgt-bench run (it holds {run_dir / LOCK}); "
                "wait for that run to finish, or pass a different --out"
            ) from None
        _remove_leftovers(run_dir)
        yield run_dir
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _remove_leftovers(run_dir: Path) -> None:
    for folder in run_dir.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staged_outputs(run_dir: Path, names: Sequence[str]) -> Iterator[Path]:
    """A temporary folder inside ``run_dir`` to write outputs into, moved into place if the block succeeds.

    ``names`` are every top-level file or folder a run may write, in the order they are moved;
    on success each staged one replaces the previous run's, and one the block did not write is
    removed, so the directory never mixes two runs' outputs. On failure the folder is removed
    and the previous outputs are untouched.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    stage = inside(run_dir, Path(tempfile.mkdtemp(dir=run_dir, prefix=STAGING_PREFIX)))
    try:
        yield stage
        _commit(stage, run_dir, names)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, run_dir: Path, names: Sequence[str]) -> None:
    """Move each staged output over the previous one; the previous ones go to the stage's trash."""
    trash = stage / ".previous"
    trash.mkdir()
    for name in names:
        _put(stage / name, run_dir / name, trash)  # renames never follow a link at ``run_dir / name``


def _put(new: Path, target: Path, trash: Path) -> None:
    """``new`` (if it was staged) to ``target``; anything at ``target`` that a rename cannot replace goes to ``trash``."""
    replaceable = new.is_file() and target.is_file() and not target.is_symlink()
    if os.path.lexists(target) and not replaceable:
        os.replace(target, trash / target.name)
    if new.exists():
        os.replace(new, target)
