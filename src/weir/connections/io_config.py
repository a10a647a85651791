"""Read a profile of a project's `io_config.yaml`, Mage's file of connection settings.

The file maps profile names to flat settings (`POSTGRES_HOST: ...`). As Mage does, the whole file is
rendered with Jinja before it is parsed as YAML, with these functions:

- `{{ env_var('NAME') }}` / `{{ env_var('NAME', 'fallback') }}`: an environment variable.
- `{{ variables('name') }}` / `{{ variables('name', 'fallback') }}`: a pipeline/runtime variable
  from the `variables` mapping given to `load_io_config` (Weir's addition; Mage has none here).
- `{{ json_value(text, 'a.b') }}`: a value inside a JSON string, as Mage's `json_value`.
- `{{ mage_secret_var(..) }}`, `{{ aws_secret_var(..) }}`, `{{ azure_secret_var(..) }}`: not
  supported by Weir.

Where Weir differs from Mage, on purpose:

- Mage's `env_var` is `os.getenv`, so a missing variable renders the text `None` and the database
  driver later fails with a confusing message (or, worse, connects to a database named `None`).
  Weir marks the setting as *unresolved* instead: loading the file still works (other profiles and
  other keys may not need the variable), and reading that setting raises a `ConfigError` naming the
  variable, the key, the profile and the file. The same happens for a missing `variables(..)` and
  for the unsupported secret functions.
- Any other undefined name (`{{ typo }}`) is an error at once; Mage renders it as an empty string.
- The YAML is parsed with `yaml.safe_load`; Mage uses `full_load`, which also accepts some
  Python-specific tags that a connection file has no use for.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
import yaml

from weir.errors import ConfigError

__all__ = ["IO_CONFIG_FILE_NAME", "IoProfile", "load_io_config"]

IO_CONFIG_FILE_NAME = "io_config.yaml"

_MARKER_RE = re.compile(r"__weir_unresolved_(\d+)__")
_UNSUPPORTED_FUNCTIONS = ("mage_secret_var", "aws_secret_var", "azure_secret_var")
_NOT_GIVEN: Any = object()


@dataclass(frozen=True, slots=True)
class IoProfile:
    """One profile of `io_config.yaml`, rendered and parsed.

    Attributes:
        name: the profile's name (a top-level key of the file, e.g. `default`).
        settings: the profile's resolved settings, key -> YAML value (str, int, bool, list, ...).
            Keys whose value could not be resolved are absent here and listed in `unresolved`.
        source_file: absolute path of the `io_config.yaml` the profile was read from.
        unresolved: key -> why its value is unknown (e.g. "environment variable 'PG_PASSWORD' is
            not set"). Reading such a key with `get` or `require` raises `ConfigError`.
    """

    name: str
    settings: Mapping[str, Any]
    source_file: Path
    unresolved: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def where(self) -> str:
        """Describe the profile for error messages: `profile 'default' in /p/io_config.yaml`."""
        return f"profile '{self.name}' in {self.source_file}"

    def get(self, key: str, default: Any = None) -> Any:
        """Return a setting, or `default` when the key is absent.

        Args:
            key: the setting's name, e.g. `POSTGRES_HOST`.
            default: returned when the profile has no such key.

        Returns:
            The YAML value of the setting.

        Raises:
            ConfigError: the key is present but its value could not be resolved (missing
                environment variable, unsupported secret function); names key, profile and file.
        """
        if key in self.unresolved:
            raise ConfigError(
                f"{key} in {self.where()} cannot be used: {self.unresolved[key]}. "
                "Set it, or give the template a fallback (env_var('NAME', 'value'))."
            )
        return self.settings.get(key, default)

    def require(self, key: str) -> Any:
        """Return a setting that must be present and not empty.

        Args:
            key: the setting's name, e.g. `POSTGRES_DBNAME`.

        Returns:
            The YAML value of the setting.

        Raises:
            ConfigError: the key is missing, empty (`null` or ``""``) or unresolved; the message
                names the key, the profile and the file.
        """
        value = self.get(key)
        if value is None or value == "":
            raise ConfigError(f"{key} is missing from {self.where()}; add it to the profile.")
        return value


def load_io_config(
    project_root: Path,
    profile: str = "default",
    *,
    variables: Mapping[str, Any] | None = None,
) -> IoProfile:
    """Render `<project_root>/io_config.yaml` and return one of its profiles.

    Args:
        project_root: the project's folder.
        profile: name of the profile to return (`data_provider_profile` of a SQL block).
        variables: values for `{{ variables('name') }}` in the file (pipeline/runtime variables).

    Returns:
        The profile, with unresolvable values set aside in `IoProfile.unresolved`.

    Raises:
        ConfigError: the file is missing or unreadable, its Jinja or YAML is malformed (with the
            line number), its top level is not a mapping, or the profile is unknown (the message
            lists the known profiles) or not a mapping.
    """
    path = (Path(project_root) / IO_CONFIG_FILE_NAME).resolve()
    reasons: list[str] = []
    text = _render(_read(path), path, variables or {}, reasons)
    document = _parse(text, path)
    profiles = sorted(str(key) for key in document if key != "version")
    if profile not in document or profile == "version":
        known = ", ".join(profiles) or "none"
        raise ConfigError(f"{path} has no profile '{profile}' (profiles: {known}).")
    body = document[profile]
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ConfigError(f"profile '{profile}' in {path} must be a mapping of settings.")
    return _resolve(profile, body, path, reasons)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no {IO_CONFIG_FILE_NAME} at {path}; create it with your connection profiles."
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error}") from error


def _render(text: str, path: Path, variables: Mapping[str, Any], reasons: list[str]) -> str:
    """Render the file's Jinja; unresolvable values become markers indexing `reasons`."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.globals.update(_template_functions(variables, reasons))
    try:
        return env.from_string(text).render()
    except jinja2.TemplateSyntaxError as error:
        raise ConfigError(f"{path}, line {error.lineno}: bad Jinja template: {error}") from error
    except jinja2.UndefinedError as error:
        raise ConfigError(
            f"{path}: {error} (known: env_var, variables, json_value); check the spelling."
        ) from error


def _template_functions(
    variables: Mapping[str, Any], reasons: list[str]
) -> dict[str, Callable[..., Any]]:
    def defer(reason: str) -> str:
        reasons.append(reason)
        return f"__weir_unresolved_{len(reasons) - 1}__"

    def env_var(name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in os.environ:
            return os.environ[name]
        if default is not _NOT_GIVEN:
            return default
        return defer(f"environment variable '{name}' is not set")

    def variables_(name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in variables:
            return variables[name]
        if default is not _NOT_GIVEN:
            return default
        return defer(f"variable '{name}' is not set for this run")

    def json_value(text: Any, key: str) -> Any:
        if isinstance(text, str) and _MARKER_RE.search(text):
            return text
        try:
            value: Any = json.loads(text)
            for part in key.split("."):
                value = value[part]
        except (TypeError, ValueError, KeyError) as error:
            return defer(f"json_value(.., '{key}') failed: {error!r}")
        return value

    def unsupported(function: str) -> Callable[..., str]:
        def call(*args: Any) -> str:
            shown = ", ".join(repr(arg) for arg in args)
            return defer(f"{function}({shown}) is not supported by Weir; use env_var instead")

        return call

    functions: dict[str, Callable[..., Any]] = {
        "env_var": env_var,
        "variables": variables_,
        "json_value": json_value,
    }
    functions.update({name: unsupported(name) for name in _UNSUPPORTED_FUNCTIONS})
    return functions


def _parse(text: str, path: Path) -> dict[Any, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}{line}: malformed YAML: {problem}") from error
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must be a mapping of profile names to settings.")
    return document


def _resolve(name: str, body: dict[Any, Any], path: Path, reasons: list[str]) -> IoProfile:
    settings: dict[str, Any] = {}
    unresolved: dict[str, str] = {}
    for key, value in body.items():
        found = sorted({int(index) for index in _MARKER_RE.findall(repr(value))})
        if found:
            unresolved[str(key)] = "; ".join(reasons[index] for index in found)
        else:
            settings[str(key)] = value
    return IoProfile(
        name=name,
        settings=MappingProxyType(settings),
        source_file=path,
        unresolved=MappingProxyType(unresolved),
    )
