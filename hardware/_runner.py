"""A separate measuring process with a timeout, and a per-device lock.

onnxruntime runs candidates' graphs in native code: a graph that loops for ever or a provider
that crashes would hang or kill the caller. Measurements therefore run in a child process
(:func:`raynas.hardware._worker.main`, on this process's ``sys.path``) that talks to the parent
over two pipes. The child is kept between measurements (starting Python and importing
onnxruntime costs ~0.5 s); a measurement that exceeds its timeout kills it, a crash is noticed
as a closed pipe, and the next measurement starts a fresh child. Plain ``subprocess`` rather
than ``multiprocessing`` so the parent's ``__main__`` (a Ray worker, a notebook, pytest) is
never re-imported.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import re
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

_HEADER = struct.Struct(">Q")


def write_message(fd: int, obj: Any) -> None:
    """Write one length-prefixed pickle to ``fd``."""
    try:
        body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        body = pickle.dumps(("error", None, type(exc).__name__, f"unpicklable result: {exc}", ""))
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = []
    while n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, timeout_s: float | None = None) -> Any:
    """Read one length-prefixed pickle; ``TimeoutError`` after ``timeout_s``, ``EOFError`` on close."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    return pickle.loads(_read_exact(fd, size, deadline))


_SYS_PATH_ENV = "RAYNAS_PARENT_SYS_PATH"
_BOOTSTRAP = (
    "import json, os, sys; "
    f"sys.path[:] = json.loads(os.environ.pop({_SYS_PATH_ENV!r})); "
    "from raynas.hardware._worker import main; "
    "sys.exit(main(sys.argv[1:]))"
)


class ProcessRunner:
    """Runs ``fn(payload)`` in a kept-alive child process, with a timeout per call.

    Args:
        startup_timeout_s: how long a fresh child may take to start and import onnxruntime.
        python: the interpreter for the child (this one by default).

    Example:
        >>> runner = ProcessRunner()
        >>> runner.run(abs, -3, timeout_s=60)
        ('ok', 3)
        >>> runner.close()
    """

    def __init__(self, *, startup_timeout_s: float = 120.0, python: str | None = None) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.python = python or sys.executable
        self._proc: subprocess.Popen[bytes] | None = None
        self._rfd = self._wfd = -1
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's pid, or ``None`` when no child is running."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        p2c_r, p2c_w = os.pipe()
        c2p_r, c2p_w = os.pipe()
        # The child imports raynas from where this process did: it takes this sys.path before
        # its first import (``-m`` would put the working directory first, and a checkout's
        # ``raynas/`` folder there, not the installed package, would be measured with).
        env = {**os.environ, _SYS_PATH_ENV: json.dumps(sys.path)}
        cmd = [self.python, "-c", _BOOTSTRAP, str(p2c_r), str(c2p_w)]
        try:
            self._proc = subprocess.Popen(
                cmd,
                pass_fds=(p2c_r, c2p_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
            )
        finally:
            os.close(p2c_r)
            os.close(c2p_w)
        self._rfd, self._wfd = c2p_r, p2c_w
        try:
            tag, _ = read_message(self._rfd, self.startup_timeout_s)
        except (TimeoutError, EOFError) as exc:
            code = self._kill()
            raise RuntimeError(
                f"the measuring process did not start (exit code {code}, {type(exc).__name__})."
            ) from None
        if tag != "ready":  # pragma: no cover - protocol error
            self._kill()
            raise RuntimeError(f"the measuring process sent {tag!r} instead of 'ready'.")

    def _kill(self) -> int | None:
        code = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            try:
                code = self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable child
                code = None
        for fd in (self._rfd, self._wfd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._proc, self._rfd, self._wfd = None, -1, -1
        return code

    def run(self, fn: Callable[[Any], Any], payload: Any, timeout_s: float) -> tuple[Any, ...]:
        """Run ``fn(payload)`` in the child.

        Returns:
            ``("ok", result)``; ``("error", exception | None, type name, message, traceback)``
            when ``fn`` raised; ``("timeout", timeout_s)`` when it ran too long (the child is
            killed); ``("crash", exit code)`` when the child died.
        """
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._kill()
                self._start()
            try:
                write_message(self._wfd, (fn, payload))
                return read_message(self._rfd, timeout_s)  # type: ignore[no-any-return]
            except TimeoutError:
                self._kill()
                return ("timeout", timeout_s)
            except (EOFError, BrokenPipeError, OSError):
                return ("crash", self._kill())

    def close(self) -> None:
        """Stop the child (a later :meth:`run` starts a new one)."""
        with self._lock:
            self._kill()

    def __getstate__(self) -> dict[str, Any]:  # a runner travels as its settings only
        return {"startup_timeout_s": self.startup_timeout_s, "python": self.python}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]


_default: ProcessRunner | None = None
_default_lock = threading.Lock()


def default_runner() -> ProcessRunner:
    """This process's shared runner (one measuring child per process)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ProcessRunner()
            atexit.register(_default.close)
        return _default


@contextlib.contextmanager
def device_lock(resource: str, *, lock_dir: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on this node's device ``resource`` (one measurement at a time).

    An OS file lock (``flock``): shared by every process on the node, whoever started it, and
    released by the kernel when its holder dies, so a killed measurement never leaves it taken.
    """
    import fcntl

    folder = lock_dir or os.path.join(tempfile.gettempdir(), "raynas-hw-locks")
    os.makedirs(folder, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", resource)
    fd = os.open(os.path.join(folder, safe + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
