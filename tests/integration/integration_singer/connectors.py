"""Real Singer connectors from PyPI, each installed once in a virtual environment of its own.

Each connector gets `python3 -m venv` + `pip install <package>==<version>` (pip's own settings
pick the registry) in a cache folder keyed by package, version and Python version:
`$WEIR_SINGER_VENVS` if set, else `<tmp>/weir-singer-venvs`. A finished install is marked by a
file, so a half-built environment is rebuilt, and a lock file lets parallel test runs share it.

Run `python -m tests.integration.integration_singer.connectors` to build them ahead of the tests.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class Connector:
    package: str
    version: str
    executable: str

    @property
    def key(self) -> str:
        python = f"py{sys.version_info.major}{sys.version_info.minor}"
        return f"{self.package}-{self.version}-{python}"


TAP_POSTGRES = Connector("pipelinewise-tap-postgres", "1.8.4", "tap-postgres")
TARGET_POSTGRES = Connector("pipelinewise-target-postgres", "2.1.2", "target-postgres")


class InstallError(Exception):
    """The connector could not be installed; the message has pip's last lines."""


def cache_dir() -> Path:
    configured = os.environ.get("WEIR_SINGER_VENVS")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "weir-singer-venvs"


def ensure(connector: Connector) -> Path:
    """Return the connector's executable, installing it first if needed.

    Raises:
        InstallError: `venv` or `pip install` failed.
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    venv = root / connector.key
    done = venv / ".weir-installed"
    executable = venv / "bin" / connector.executable
    with open(root / f"{connector.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(venv, ignore_errors=True)
            python = shutil.which("python3") or sys.executable
            _run([python, "-m", "venv", str(venv)], connector)
            spec = f"{connector.package}=={connector.version}"
            _run([str(venv / "bin" / "pip"), "install", "--quiet", spec], connector)
            if not executable.exists():
                raise InstallError(f"{spec} installed no '{connector.executable}' command")
            done.write_text(f"{spec}\n")
    return executable


def _run(command: list[str], connector: Connector) -> None:
    try:
        subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=INSTALL_TIMEOUT_SECONDS
        )
    except subprocess.CalledProcessError as exc:
        tail = "\n".join((exc.stdout + exc.stderr).splitlines()[-15:])
        command_line = " ".join(command)
        raise InstallError(
            f"installing {connector.package} failed: {command_line}\n{tail}"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f"installing {connector.package} failed: {exc}") from exc


if __name__ == "__main__":
    for each in (TAP_POSTGRES, TARGET_POSTGRES):
        print(ensure(each))
