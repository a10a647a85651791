"""Running an external Singer connector (a tap or a target) as a child process.

What the Singer tap source and the Singer target destination share: starting the command with
piped standard streams, forwarding its stderr to a logger line by line while keeping the last
lines for error messages, stopping it, and writing the JSON files it reads (config, catalog,
state) and the state file Weir keeps for a target.

Secrets: the connector's config is written to a file only the current user may read, in a
private directory that is removed when the process is done with it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

__all__ = [
    "STDERR_TAIL_LINES",
    "ConnectorProcess",
    "atomic_write_json",
    "connector_name",
    "private_run_dir",
    "write_private_json",
]

STDERR_TAIL_LINES = 20
"""How many of a connector's last stderr lines an error message quotes."""

TERMINATE_GRACE_SECONDS = 5.0
"""How long a connector gets to exit after SIGTERM before it is killed."""

_LEVELS = (
    ("CRITICAL", logging.CRITICAL),
    ("FATAL", logging.CRITICAL),
    ("ERROR", logging.ERROR),
    ("WARNING", logging.WARNING),
    ("WARN", logging.WARNING),
    ("DEBUG", logging.DEBUG),
)


def connector_name(command: Sequence[str]) -> str:
    """Name a connector for messages: the file name of its executable (`tap-postgres`).

    A command run through an interpreter (`python tap.py`, `python -m tap_x`) is named by the
    script or module instead.
    """
    if not command:
        return "<empty command>"
    words = list(command)
    name = Path(words[0]).name
    if name.startswith("python") and len(words) > 1:
        rest = words[1:]
        if rest[0] == "-m" and len(rest) > 1:
            return rest[1]
        return Path(rest[0]).name
    return name


def _level_of(line: str) -> int:
    """Guess a log level from a connector's stderr line (Singer taps log `level=INFO ...`)."""
    head = line[:120].upper()
    for word, level in _LEVELS:
        if word in head:
            return level
    return logging.INFO


class ConnectorProcess:
    """A running connector: stdout and stdin as pipes, stderr forwarded to `logger`.

    Use as a context manager: leaving the block stops the process if it still runs (SIGTERM,
    then SIGKILL after `TERMINATE_GRACE_SECONDS`) and waits for the stderr thread.

    Args:
        command: the connector's command line, arguments included.
        name: the connector's name for log lines and messages.
        logger: where stderr lines go, as `"<name>: <line>"`, at a level guessed from the line.
        stdin: open a pipe to the process's standard input (targets); else it reads nothing.
        cwd: the working directory of the process.

    Raises:
        OSError: the command cannot be started (not found, not executable).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        name: str,
        logger: logging.Logger,
        stdin: bool = False,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self._logger = logger
        self._tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._popen = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
        )
        self._stderr_thread = threading.Thread(
            target=self._forward_stderr, name=f"weir-{name}-stderr", daemon=True
        )
        self._stderr_thread.start()

    @property
    def stdout(self) -> IO[bytes]:
        """The process's standard output (binary, buffered)."""
        assert self._popen.stdout is not None
        return self._popen.stdout

    @property
    def stdin(self) -> IO[bytes]:
        """The process's standard input; only when started with `stdin=True`."""
        if self._popen.stdin is None:
            raise RuntimeError(f"{self.name} was started without a stdin pipe")
        return self._popen.stdin

    @property
    def pid(self) -> int:
        """The process id."""
        return self._popen.pid

    def poll(self) -> int | None:
        """The exit code, or None while the process runs."""
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit and for its stderr to be read; return the exit code.

        Raises:
            subprocess.TimeoutExpired: it still runs after `timeout` seconds.
        """
        code = self._popen.wait(timeout)
        self._stderr_thread.join(timeout=TERMINATE_GRACE_SECONDS)
        return code

    def stderr_tail(self) -> str:
        """The last `STDERR_TAIL_LINES` stderr lines, joined by newlines ('' when none)."""
        return "\n".join(self._tail)

    def failure(self, code: int) -> str:
        """Describe an exit: `"'tap-x' exited with code 2; its last stderr lines: ..."`."""
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        tail = self.stderr_tail()
        said = f"; its last stderr lines:\n{tail}" if tail else " and wrote nothing to stderr"
        return f"'{self.name}' {how}{said}"

    def stop(self) -> None:
        """Stop the process if it still runs (SIGTERM, then SIGKILL), then close the pipes.

        The signal comes first: a target that saw its input end would take it as a clean end
        and commit what it buffered.
        """
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(TERMINATE_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        for pipe in (self._popen.stdin, self._popen.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._stderr_thread.join(timeout=TERMINATE_GRACE_SECONDS)

    def __enter__(self) -> ConnectorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _forward_stderr(self) -> None:
        stream = self._popen.stderr
        assert stream is not None
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip()
                if not line:
                    continue
                self._tail.append(line)
                self._logger.log(_level_of(line), "%s: %s", self.name, line)


def write_private_json(path: Path, value: Any) -> None:
    """Write `value` as JSON to a new file only the current user can read (mode 0600).

    Raises:
        OSError: the file cannot be written.
        TypeError: `value` holds something JSON cannot represent.
    """
    data = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def atomic_write_json(path: Path, value: Mapping[str, Any]) -> None:
    """Replace `path` with `value` as indented JSON, atomically and durably.

    The JSON goes to a temporary file in the same directory, which is flushed to disk and then
    renamed over `path`; a crash leaves either the old file or the new one, never a mix.

    Raises:
        OSError: the directory is not writable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(dict(value), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def private_run_dir(work_dir: Path, prefix: str) -> Iterator[Path]:
    """A fresh directory under `work_dir` (created if missing), removed on exit.

    Raises:
        OSError: `work_dir` cannot be created or written.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
