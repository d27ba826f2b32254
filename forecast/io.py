"""Atomic output files: every CSV, JSON and PNG is written to a temporary sibling and renamed into place.

Also the two conventions for what the tool shows: strict JSON (``dumps``: NaN and infinities as null,
never the ``NaN`` literal that is not JSON) and shell-quoted paths (``shell_path``) in printed lines.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import json
import math
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any, Iterable


def umask() -> int:
    """The process's umask (read without changing it for longer than the call)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_umask = umask


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def known(value: Any) -> bool:
    """Whether a score is a number to show: not None (how metrics.json keeps NaN, ``strict``) and not NaN."""
    return value is not None and value == value


def strict(obj: Any) -> Any:
    """``obj`` with every NaN or infinity (also in numpy scalars and arrays) replaced by None."""
    if isinstance(obj, dict):
        return {(k.item() if hasattr(k, "item") and hasattr(k, "dtype") else k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if hasattr(obj, "dtype") and hasattr(obj, "tolist"):  # numpy scalar or array
        return strict(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _other(obj: Any) -> Any:
    if type(obj).__name__ in ("NaTType", "NAType"):  # pandas' missing date / value
        return None
    return str(obj)  # Path, Timestamp, ...


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text: NaN and infinities as null; other non-JSON values (paths, dates) as strings."""
    return json.dumps(strict(obj), indent=indent, default=_other, allow_nan=False)


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as strict JSON (see ``dumps``), atomically."""
    return atomic_write_text(path, dumps(obj) + "\n")


def shell_path(path: Any) -> str:
    """``path`` as a user can paste it into a shell: quoted when it holds spaces or other special characters."""
    return shlex.quote(str(path))


def write_csv(path: Path, frame) -> Path:
    return atomic_write_text(path, frame.to_csv(index=False))


def figure_png(fig, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to PNG bytes (for files, or data URIs in the HTML report)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Render a matplotlib figure to PNG and write it atomically."""
    return atomic_write_bytes(path, figure_png(fig, dpi))


PARALLEL_FIGURES = 8  # from this many figures on, save_figures draws in worker processes when given them
MAX_FIGURE_WORKERS = 4


def figure_workers() -> int:
    """Worker processes for drawing many charts: one per core, at most ``MAX_FIGURE_WORKERS``."""
    return min(os.cpu_count() or 1, MAX_FIGURE_WORKERS)


def save_figures(figures: Iterable[tuple[Path, Any]], dpi: int = 110, workers: int = 1) -> list[Path]:
    """Render figures to PNG and write each atomically; ``figures`` yields (path, figure) pairs, lazily if it
    likes (each figure is pickled as it comes, so they need not all be alive at once). Returns the paths.

    Matplotlib draws one figure at a time in a process: a per-series chart took 0.3 s here and a grid of 100
    series 11 s, so a 100-series panel's charts took 45 s. With ``workers`` > 1 and at least
    ``PARALLEL_FIGURES`` figures they are drawn in that many spawned processes, with the same PNG bytes. A figure
    that cannot be pickled (a lambda formatter), or a pool that cannot start, is drawn here instead.

    The default is 1 because a spawned process imports the caller's main script again: the CLI's is guarded
    (it passes ``figure_workers()``), a library user's script may not be.
    """
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from forecast.tf_quiet import spawn_context

    items = iter(figures)
    first = list(itertools.islice(items, PARALLEL_FIGURES))
    pool = None
    if len(first) >= PARALLEL_FIGURES and workers >= 2:
        with contextlib.suppress(OSError, RuntimeError):  # no processes here: every figure is drawn in this one
            pool = ProcessPoolExecutor(workers, mp_context=spawn_context())
    if pool is None:
        return [save_figure(fig, path, dpi) for path, fig in itertools.chain(first, items)]
    done: dict[int, Path] = {}
    pending: dict[int, tuple[Path, bytes, Any]] = {}  # index -> (path, pickled figure, its future or None)
    with pool:
        for i, (path, fig) in enumerate(itertools.chain(first, items)):  # drawn while the next ones are built
            try:
                data = pickle.dumps(fig)
            except (pickle.PicklingError, TypeError, AttributeError):
                done[i] = save_figure(fig, path, dpi)
                continue
            pending[i] = (path, data, _submit(pool, data, dpi))
        for i, (path, data, future) in pending.items():
            try:
                png = future.result() if future is not None else _png_of_pickled(data, dpi)
            except (OSError, RuntimeError):  # the pool broke (a BrokenProcessPool is a RuntimeError): draw it here
                png = _png_of_pickled(data, dpi)
            done[i] = atomic_write_bytes(path, png)
    return [done[i] for i in sorted(done)]


def _submit(pool, data: bytes, dpi: int):
    """A future PNG of a pickled figure, or None where the pool no longer takes work."""
    try:
        return pool.submit(_png_of_pickled, data, dpi)
    except (OSError, RuntimeError):
        return None


def _png_of_pickled(data: bytes, dpi: int) -> bytes:
    import pickle

    return figure_png(pickle.loads(data), dpi)


def check_can_write(path: Path, option: str) -> None:
    """Fail before any work when ``path`` (a file or folder to be written, or replaced by a rename) cannot be
    created: a temporary folder is made and removed in the nearest existing folder above it. The message names
    the path as the user gave it."""
    from forecast.errors import ForecastError

    path = Path(path)
    where = path.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise ForecastError(f"{option} {path}: {where} is a file, not a folder; choose another path")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".forecast-probe-", dir=where))
    except OSError as e:
        # a folder that exists but says "No such file or directory" to a new entry is a system one (/proc, /sys)
        reason = ("it takes no new files or folders" if e.errno == errno.ENOENT and where.is_dir()
                  else e.strerror or e)
        raise ForecastError(f"{option} {path}: cannot write in {where} ({reason}); choose another path or "
                            "fix the folder's permissions") from None

