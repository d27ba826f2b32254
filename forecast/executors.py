"""Where independent units of work (backtest folds, per-series fits, tuning trials) run: here, a pool, or Ray.

``open_executor(name, workers, address)`` is a context manager yielding a ``map``-like callable
``executor(fn, items) -> iterator of results in the order of items`` whose ``width`` says how many units
run at once; leaving the block shuts the pool (or the local Ray instance it started) down. Every unit
seeds itself (``LSTMForecaster.fit`` calls ``set_seed``), so all executors give the sequential run's
results: bit-identical when each unit gets as many intra-op threads as there, else within about 1e-9
relative (TensorFlow splits larger matrix products by thread count, which reorders float sums).

* ``sequential``: the built-in ``map``, no start-up cost.
* ``process``: a ``spawn`` process pool (TensorFlow is not fork-safe) of ``workers`` processes
  (default: the CPU count). Each worker limits TensorFlow to ``max(1, cores // workers)`` intra-op
  threads and 1 inter-op thread before TensorFlow initialises, so N workers do not oversubscribe the cores.
* ``ray``: Ray tasks of one CPU each; a local Ray instance of ``workers`` CPUs, or the cluster at
  ``address`` (``HOST:PORT`` of the head's GCS, or ``ray://HOST:10001`` through the Ray client), whose
  nodes must have the same versions of forecast, TensorFlow and Ray installed. An address where nothing
  answers fails within seconds (``check_reachable``); with a token saved or set (Ray's token
  authentication, on by default for ``ray start``) the connection uses it. Needs the optional extra:
  ``pip install "forecast[ray]"``.

``Background(fn, *args)`` is the other kind of parallelism: one piece of work (``train``'s statistical models)
in a process forked before TensorFlow loads, overlapping the fit; ``result()`` collects it. A generator function
hands over each value it yields in turn, each stage at a niceness of its own.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Sequence

from forecast.errors import ForecastError
from forecast.tf_quiet import spawn_context

EXECUTORS = ("sequential", "process", "ray")
CORES_ENV = "FORECAST_CORES"  # a worker's share of the cores (thread_env), which forked_map keeps to


class Executor:
    """``executor(fn, items)`` maps ``fn`` over ``items`` (results in order); ``width`` units run at once."""

    def __init__(self, mapper: Callable[[Callable, Iterable], Iterator], width: int):
        self._map, self.width = mapper, width

    def __call__(self, fn: Callable, items: Iterable) -> Iterator:
        return self._map(fn, items)


SEQUENTIAL = Executor(map, 1)  # the default wherever work can run on an executor: here, one unit at a time


def check_executor(name: str, workers: int | None = None, address: str | None = None) -> None:
    """Fail before any work on an unknown executor, a bad --workers, an --address it cannot use, or no Ray."""
    if name not in EXECUTORS:
        raise ForecastError(f"--executor {name!r}: unknown executor; choose from {', '.join(EXECUTORS)}")
    if workers is not None and (workers < 1 or name == "sequential"):
        raise ForecastError(f"--workers {workers}: must be at least 1, with --executor process or ray")
    if address is not None and name != "ray":
        raise ForecastError(f"--address {address}: only --executor ray connects to a cluster; add --executor ray")
    if address is not None and workers is not None:
        raise ForecastError(f"--workers {workers}: with --address the cluster's CPUs decide; drop --workers")
    if name == "ray":
        require_ray()


def thread_env(workers: int, cores: int | None = None) -> dict[str, str]:
    """Environment variables giving each of ``workers`` workers its share of the cores for TensorFlow."""
    share = str(max(1, (cores or os.cpu_count() or 1) // workers))
    return {"TF_NUM_INTRAOP_THREADS": share, "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": share, CORES_ENV: share,
            "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), "CUDA_VISIBLE_DEVICES":
            os.environ.get("CUDA_VISIBLE_DEVICES", "")}


def _interrupted(results: Iterator, workers: dict) -> Iterator:
    """``results`` of a process pool's map; where the pool broke because a worker ended at Ctrl-C (exit code 130,
    ``_init_worker``), KeyboardInterrupt, as the caller gets when the signal reaches it first."""
    try:
        yield from results
    except BrokenProcessPool:
        ended = list(workers.values())
        for p in ended:  # their exit codes, once the pool's own SIGTERM to the others has taken effect
            p.join(timeout=5)
        if any(p.exitcode == 130 for p in ended):
            raise KeyboardInterrupt from None
        raise


def _init_worker(env: dict[str, str]) -> None:
    """Process-pool initializer: runs in each fresh worker before anything imports TensorFlow. At Ctrl-C (SIGINT to
    the process group) the worker ends at once: the caller gets it too and stops; a worker that went on to its next
    item kept the caller waiting for that item's fit."""
    os.environ.update(env)
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))


@contextlib.contextmanager
def open_executor(name: str = "sequential", workers: int | None = None,
                  address: str | None = None) -> Iterator[Executor]:
    """A ``map``-like executor for ``name``; its workers are shut down when the block ends."""
    check_executor(name, workers, address)
    if name == "sequential":
        yield SEQUENTIAL
    elif name == "process":
        n = workers or os.cpu_count() or 1
        with ProcessPoolExecutor(n, mp_context=spawn_context(), initializer=_init_worker,
                                 initargs=(thread_env(n),)) as pool:
            workers = pool._processes  # the pool's own pid -> process dict, filled as the workers start
            try:
                yield Executor(lambda fn, items: _interrupted(pool.map(fn, items), workers), n)
            except BaseException:  # Ctrl-C or an error: the items not started are not started
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    else:
        with _ray_session(workers, address) as ray:
            def ray_map(fn, items):
                remote = ray.remote(num_cpus=1)(fn)
                refs = [remote.remote(item) for item in items]  # all submitted at once; results in order
                return (ray.get(ref) for ref in refs)

            yield Executor(ray_map, max(1, int(ray.cluster_resources().get("CPU", 1))))


def require_ray():
    try:
        import ray
    except ImportError:
        raise ForecastError('--executor ray needs Ray, which is not installed: pip install "forecast[ray]"') from None
    return ray


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def split_address(address: str) -> tuple[str, int] | None:
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT``; None for Ray's own words (auto, local)."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rstrip("/").rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def _auth_token_available() -> bool:
    """A Ray token is set (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH) or saved where `ray start` writes it."""
    from pathlib import Path

    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file())


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail within ``timeout`` seconds when nothing listens at ``address`` (a TCP connect to HOST:PORT)."""
    import socket

    where = split_address(address)
    if where is None:
        if address not in ("auto", "local"):
            raise ForecastError(f"--address {address}: expected HOST:PORT or ray://HOST:PORT (e.g. "
                                "ray://head:10001, or 10.0.0.5:6379 for the head's GCS port)")
        return
    try:
        socket.create_connection(where, timeout=timeout).close()
    except OSError as e:
        reason = "no answer" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__).lower()
        raise ForecastError(f"cannot reach the Ray cluster at {address} ({reason} at {where[0]}:{where[1]} within "
                            f"{timeout:g} s); check the address and that the cluster runs (`ray status` on its "
                            "head node)") from None


@contextlib.contextmanager
def _ray_session(workers: int | None, address: str | None):
    """Connect to ``address`` or start a local Ray of ``workers`` CPUs; shut down only what was started here."""
    ray = require_ray()
    if ray.is_initialized():  # e.g. the caller's own ray.init: use it as it is
        yield ray
        return
    if address:
        check_reachable(address)  # Ray itself retries for half a minute, then blames something else
        if "RAY_AUTH_MODE" not in os.environ and _auth_token_available():
            os.environ["RAY_AUTH_MODE"] = "token"  # `ray start` turns token auth on; ray.init(address=) does not
        try:
            ray.init(address=address, runtime_env={"env_vars": thread_env(1, 1)}, log_to_driver=False,
                     logging_level=logging.ERROR)
        except (ConnectionError, TimeoutError, OSError) as e:
            raise ForecastError(f"cannot reach the Ray cluster at {address}: {_first_line(e)}; check the address "
                                "and that the cluster runs (`ray status` on its head node)") from None
    else:
        n = workers or os.cpu_count() or 1
        ray.init(num_cpus=n, include_dashboard=False, runtime_env={"env_vars": thread_env(n)},
                 log_to_driver=False, logging_level=logging.ERROR)  # no "Started a local Ray instance" lines
    try:
        yield ray
    finally:
        ray.shutdown()


def _end_with(parent: int) -> None:
    """In a forked child: end when ``parent`` ends, however it ends (Ctrl-C is handled, but not SIGKILL, the
    out-of-memory killer or ``os._exit``). Otherwise the child finishes its work and then waits forever, holding
    its memory, to hand a result to a pipe nobody reads (a sibling forked later holds its read end open).
    Linux asks the kernel for a SIGTERM when the parent ends (PR_SET_PDEATHSIG); elsewhere this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request was made
        os._exit(1)


class Background:
    """``fn(*args)`` running in a forked process while this one goes on; ``result()`` waits for it.

    Forking is safe only before TensorFlow is loaded (its threads do not survive a fork), so where TensorFlow is
    already imported, or the platform has no fork, or the process cannot start or dies, ``fn`` runs in
    ``result()`` instead: the same answer, later. ``close()`` ends the process (``result()`` calls it).

    A generator function hands over its results in stages: each ``result()`` returns the next value it yields
    (a later stage can reuse what an earlier one computed in the same process), and the caller calls ``close()``.
    ``nice``: added to the process's niceness, for work wanted later than what this one does meanwhile; a
    sequence gives each stage's (it can only rise; the last one holds for any further stage)."""

    def __init__(self, fn: Callable, *args, nice: int | Sequence[int] = 0):
        self._fn, self._args, self._proc, self._conn = fn, args, None, None
        self._staged, self._taken, self._here = inspect.isgeneratorfunction(fn), 0, None
        if "tensorflow" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
            return
        ctx = multiprocessing.get_context("fork")
        levels = (nice,) if isinstance(nice, int) else tuple(nice)
        try:
            self._conn, send = ctx.Pipe(duplex=False)
            self._proc = ctx.Process(target=_send_results, args=(send, os.getpid(), fn, args, levels), daemon=True)
            self._proc.start()
            send.close()
        except OSError:
            self.close()

    def waiting(self, timeout: float = 0.0) -> bool:
        """Whether the next ``result()`` still waits for the forked process after ``timeout`` seconds of waiting
        here; False where it is there, or where ``result()`` computes it in this process."""
        try:
            return self._conn is not None and not self._conn.poll(timeout)
        except (EOFError, OSError):  # the process died: result() computes it here
            return False

    def result(self):
        self._taken += 1
        try:
            if self._conn is not None:
                try:
                    ok, value = self._conn.recv()
                    if ok:
                        return value
                except (EOFError, OSError):  # the process died (e.g. out of memory)
                    pass
                logging.getLogger(__name__).debug("background %s failed; running it here", self._fn.__name__)
                self.close()
            if self._here is None:  # the stages the process did hand over are computed again, then this one
                self._here = _stages(self._fn, self._args)
                for _ in range(self._taken - 1):
                    next(self._here)
            return next(self._here)
        finally:
            if not self._staged:
                self.close()

    def close(self) -> None:
        if self._here is not None:  # a generator run here: ends its stages now, not when it is collected
            self._here.close()
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None


def _stages(fn: Callable, args: tuple) -> Iterator:
    """The values ``fn(*args)`` hands over: each one a generator function yields, else its one result."""
    if inspect.isgeneratorfunction(fn):
        yield from fn(*args)
    else:
        yield fn(*args)


def _send_results(conn, parent: int, fn: Callable, args: tuple, nice: tuple[int, ...] = (0,)) -> None:
    """In the forked child: each stage's value (or the error that ended them) down ``conn``, at its niceness."""
    _end_with(parent)
    added, done = 0, object()
    try:
        stages = _stages(fn, args)
        for k in itertools.count():
            want = nice[min(k, len(nice) - 1)]
            if want > added:
                with contextlib.suppress(OSError):
                    os.nice(want - added)
                added = want
            value = next(stages, done)
            if value is done:
                break
            conn.send((True, value))
    except BaseException as e:  # noqa: BLE001 - the parent computes it itself
        conn.send((False, repr(e)))
    finally:
        conn.close()


FORK_MIN_ITEMS = 64  # fewer items are mapped here: forking the workers would cost more than it saves

_forked_job: tuple[Callable, Sequence] | None = None  # what forked_map's workers inherit through the fork


def usable_cores() -> int:
    """The CPUs this process may use: its share where it is a worker of ``open_executor`` (``CORES_ENV``), else
    those it may run on (its affinity where the platform says; else the machine's count)."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        cores = os.cpu_count() or 1
    share = os.environ.get(CORES_ENV, "")
    return min(cores, int(share)) if share.isdigit() and int(share) > 0 else cores


def forked_map(fn: Callable, items: Sequence, workers: int | None = None) -> list:
    """``[fn(x) for x in items]``, spread over ``workers`` forked processes (default: ``usable_cores``) where that
    is safe and worth it: TensorFlow not loaded (its threads do not survive a fork), fork available, at least
    ``FORK_MIN_ITEMS`` items and two workers. Otherwise, or when the workers cannot start or one dies, in this
    process.

    For CPU-bound Python work whose results do not depend on where it runs, such as statsforecast's forward runs
    from many origins: ``fn`` and ``items`` reach the workers through the fork (nothing of theirs is pickled; a
    lambda will do), the results come back pickled, in order, and are those of the plain loop. The workers take
    chunks as they finish earlier ones, inherit this process's niceness and end when it ends or at Ctrl-C. An
    exception in ``fn`` is raised here. Inside ``Background``'s forked process too: its daemon flag, which makes
    ``multiprocessing`` refuse children, is lifted while the workers start; they end with it all the same
    (``_forked_worker``)."""
    global _forked_job
    items = list(items)
    workers = min(workers or usable_cores(), len(items))
    if (workers < 2 or len(items) < FORK_MIN_ITEMS or "tensorflow" in sys.modules
            or "fork" not in multiprocessing.get_all_start_methods()):
        return [fn(x) for x in items]
    me = multiprocessing.current_process()
    daemon, _forked_job = me.daemon, (fn, items)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=_forked_worker,
                                 initargs=(os.getpid(),)) as pool:
            me._config["daemon"] = False  # the setter refuses a started process; the flag is read at each fork
            size = max(1, len(items) // (8 * workers))
            try:  # the workers are forked at the first submission, all at once
                chunks = [pool.submit(_forked_chunk, a, min(a + size, len(items))) for a in range(0, len(items), size)]
            finally:
                me._config["daemon"] = daemon
            try:
                return [r for chunk in chunks for r in chunk.result()]
            except KeyboardInterrupt:
                # what is left is cancelled by the pool's own thread, which also marks the futures failed when the
                # workers end at Ctrl-C; cancelled from here (as Executor.map does), Python 3.11's pool raised in
                # that thread when the two met: a traceback on the terminal
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    except (OSError, BrokenProcessPool):  # no process to be had, or one died (e.g. out of memory)
        return [fn(x) for x in items]
    finally:
        _forked_job = None


def _forked_worker(parent: int) -> None:
    """A forked_map worker ends with ``parent``, and quietly at Ctrl-C (the caller, in the same process group, gets
    it too and handles it), without multiprocessing's traceback of a worker interrupted while it waited."""
    _end_with(parent)
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))


def _forked_chunk(start: int, stop: int) -> list:
    fn, items = _forked_job
    return [fn(items[i]) for i in range(start, stop)]
