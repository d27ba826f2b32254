"""Keep TensorFlow's C++ start-up chatter off the user's terminal, without hiding a real error.

TensorFlow 2.21 logs through two statically linked copies of absl before either is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` (even 3) cannot silence what its libraries print while they load::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
    I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.

(each twice), and later, at ERROR level, ``failed call to cuInit`` on a machine without a GPU and
``NodeDef mentions attribute use_unbounded_threadpool`` from a tf.data map op. No environment variable
reaches those lines (absl reads none; ``TF_ENABLE_ONEDNN_OPTS=0`` would change the numbers), so the CLI
routes file descriptor 2 through a small filter process (:func:`filter_stderr`) that drops exactly
the lines in :data:`NOISE` and passes every other byte through unchanged and in order. The filter is a
separate process, so even a crash of the CLI (a segfault in a C++ library) loses no line of its
message: the filter drains the pipe to its end. On a terminal the pipe is a pseudo-terminal of the
same size, so colours, widths and progress bars behave as before.

:func:`quiet` also sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it (C++ INFO and WARNING
lines after start-up, e.g. retracing notices), lowers the ``tensorflow`` Python logger to ERROR, and
sends Keras' epoch progress to stderr, so stdout holds only results.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import time

# absl / glog line prefix: severity, MMDD, time, thread id, file:line]
# absl (TF >= 2.17): "E0000 00:00:1783190786.420393    3712 file.cc:682] ..." (before absl is initialised the time
# reads 00:00:<epoch seconds>); older TF: "2025-12-18 05:55:59.405476: E tensorflow/core/framework/file.cc:680] ..."
_GLOG = r"(?:[IWEF]\d{4} [\d:.]+\s+\d+ |\d{4}-\d\d-\d\d [\d:.]+: [IWEF] (?:\S+/)?)"
NOISE = tuple(re.compile(p) for p in (
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    _GLOG + r"port\.cc:\d+\] oneDNN custom operations are on\. ",
    _GLOG + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.",
    _GLOG + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions: .*, in other operations, rebuild TensorFlow with the appropriate "
    r"compiler flags\.$",  # the second line of the one above
    _GLOG + r"\S+\.cc:\d+\] .*NodeDef mentions attribute use_unbounded_threadpool which is not in the op definition",
    _GLOG + r"\S+\.cc:\d+\] Unable to register cu(DNN|FFT|BLAS) factory: Attempting to register factory for "
            r"plugin cu\w+ when one has already been registered",
    _GLOG + r"computation_placer\.cc:\d+\] computation placer already registered\.",
))
# Only noise where no GPU is present or the user hid them (CUDA_VISIBLE_DEVICES empty or -1); with a GPU
# this line is a real problem (driver) and passes.
NO_GPU_NOISE = re.compile(_GLOG + r"cuda_(platform|executor|diagnostics)\.cc:\d+\] failed call to cuInit: ")


def gpu_expected() -> bool:
    """Whether this machine has an NVIDIA device the user did not hide."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia/version")


def is_noise(line: str, gpu: bool = False) -> bool:
    """True for a known, harmless TensorFlow/absl/CUDA log line (``gpu``: a GPU is expected here)."""
    line = line.rstrip("\r\n")
    if any(p.match(line) for p in NOISE):
        return True
    return not gpu and bool(NO_GPU_NOISE.match(line))


_PREFIXES = (b"WARNING: All log messages before absl",)
_GLOG_START = re.compile(rb"[IWEF]\d{0,4}( [\d:.]*)?$|[IWEF]\d{4} [\d:.]+\s|[\d-]{1,10}$|\d{4}-\d\d-\d\d ")


def _may_become_noise(partial: bytes) -> bool:
    """Whether an unfinished line could still turn out to be noise (then it waits for its newline)."""
    return any(p.startswith(partial) or partial.startswith(p) for p in _PREFIXES) or bool(
        _GLOG_START.match(partial))


def filter_stream(read_fd: int, out_fd: int, gpu: bool) -> None:
    """Copy ``read_fd`` to ``out_fd`` until end of file, dropping noise lines; partial lines pass at once."""
    buf = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except InterruptedError:
            continue
        except OSError:  # EIO: every writer of a pseudo-terminal has closed it
            chunk = b""
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out = b"".join(line + b"\n" for line in lines if not is_noise(line.decode("utf-8", "replace"), gpu))
        if buf and not _may_become_noise(buf):
            out, buf = out + buf, b""
        _write_all(out_fd, out)
    if buf and not is_noise(buf.decode("utf-8", "replace"), gpu):
        _write_all(out_fd, buf)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except InterruptedError:
            continue
        except OSError:  # the reader went away: nothing more can be shown
            return


_FILTER: dict = {}


def filter_stderr() -> bool:
    """Route fd 2 of this process (and of every process it starts) through a noise filter process.

    Once per process, POSIX only, and only before TensorFlow is imported (after that the start-up
    lines are out already). Returns whether the filter is (now) in place. Call it while the process
    has a single thread: it forks.
    """
    if _FILTER or not hasattr(os, "fork") or "tensorflow" in sys.modules:
        return bool(_FILTER)
    try:
        os.fstat(2)
    except OSError:
        return False
    gpu = gpu_expected()
    if os.isatty(2):
        import fcntl
        import pty
        import termios

        read_fd, write_fd = pty.openpty()
        attrs = termios.tcgetattr(write_fd)
        attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n": bytes pass unchanged
        termios.tcsetattr(write_fd, termios.TCSANOW, attrs)
        with _suppress_oserror():
            fcntl.ioctl(write_fd, termios.TIOCSWINSZ, fcntl.ioctl(2, termios.TIOCGWINSZ, b"\0" * 8))
    else:
        read_fd, write_fd = os.pipe()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the filter: reads until every writer is gone, then exits without Python's clean-up
        try:
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the CLI; keep draining its output
            os.close(write_fd)
            out_fd = os.dup(2)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, min(out_fd, read_fd))
            keep = sorted((out_fd, read_fd))
            os.closerange(keep[0] + 1, keep[1])
            os.closerange(keep[1] + 1, 65536)
            filter_stream(read_fd, out_fd, gpu)
        finally:
            os._exit(0)
    os.close(read_fd)
    saved = os.dup(2)
    os.set_inheritable(saved, False)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _FILTER.update(pid=pid, saved=saved)
    atexit.register(close_filter)
    return True


class _suppress_oserror:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, OSError)


def _flush_standard_streams() -> None:
    """Flush Python's stdout and stderr before fd 2 is pointed elsewhere, so nothing lands on the wrong side."""
    for stream in (sys.stdout, sys.stderr):
        with _suppress_oserror():
            stream.flush()


def spawn_context():
    """multiprocessing's ``spawn`` context, for process pools; first its resource tracker is started with the
    real stderr. Started later, by the pool, the tracker inherits fd 2 (the filter's pipe) and holds it open
    until this process ends, so ``close_filter`` waited its whole timeout at the exit of every command that had
    used a pool: 5.00 s (measured; 5.07 s of a 100-series train that drew its charts in a pool)."""
    import multiprocessing

    if _FILTER and os.name == "posix":
        from multiprocessing import resource_tracker

        _flush_standard_streams()
        pipe = os.dup(2)
        try:
            os.dup2(_FILTER["saved"], 2)
            resource_tracker.ensure_running()
        finally:
            os.dup2(pipe, 2)
            os.close(pipe)
    return multiprocessing.get_context("spawn")


def close_filter(timeout: float = 5.0) -> None:
    """At exit: give fd 2 back, let the filter drain what is left, and wait (briefly) for it to finish."""
    if not _FILTER:
        return
    _flush_standard_streams()
    os.dup2(_FILTER["saved"], 2)  # this process no longer writes into the filter: it sees end of file
    deadline = time.monotonic() + timeout  # a child process still holding the pipe must not hang the exit
    while time.monotonic() < deadline:
        with _suppress_oserror():
            if os.waitpid(_FILTER["pid"], os.WNOHANG)[0]:
                break
        time.sleep(0.01)
    _FILTER.clear()


# ------------------------------------------------------------------------ Keras progress -> stderr


def _patch_keras_io(io_utils) -> None:
    """Keras' ``print_msg`` (epoch lines, progress bars) writes to stderr instead of stdout."""
    if getattr(io_utils.print_msg, "_to_stderr", False):
        return
    original = io_utils.print_msg

    def print_msg(message, line_break=True):
        if not io_utils.is_interactive_logging_enabled():
            return original(message, line_break)
        message = f"{message}\n" if line_break else str(message)
        try:
            sys.stderr.write(message)
        except UnicodeEncodeError:
            sys.stderr.write(message.encode(sys.stderr.encoding or "utf-8", "replace").decode(
                sys.stderr.encoding or "utf-8"))
        sys.stderr.flush()

    print_msg._to_stderr = True
    io_utils.print_msg = print_msg


_KERAS_IO = "keras.src.utils.io_utils"


class _AfterImport(importlib.abc.MetaPathFinder):
    """Patch Keras' io_utils right after it is imported, without importing Keras (and TensorFlow) now."""

    def find_spec(self, name, path, target=None):
        if name != _KERAS_IO:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch_keras_io(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def progress_to_stderr() -> None:
    """Send Keras' progress output to stderr, now if Keras is loaded, else as soon as it loads."""
    if _KERAS_IO in sys.modules:
        _patch_keras_io(sys.modules[_KERAS_IO])
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())


def quiet(filter_fd: bool = False) -> None:
    """Everything above; ``filter_fd`` also installs the fd-2 filter (the CLI's own process only)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    progress_to_stderr()
    if filter_fd:
        filter_stderr()
