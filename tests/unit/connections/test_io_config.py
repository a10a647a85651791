from __future__ import annotations

from pathlib import Path

import pytest

from weir.connections import IoProfile, load_io_config
from weir.errors import ConfigError


def write(root: Path, text: str) -> Path:
    path = root / "io_config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_profile_is_parsed_with_yaml_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 0.1.1\ndefault:\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PORT: 5432\n",
    )
    profile = load_io_config(tmp_path)
    assert profile == IoProfile(
        name="default",
        settings={"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": 5432},
        source_file=path.resolve(),
    )
    assert profile.unresolved == {}


def test_env_var_is_rendered_before_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_T_PORT", "6543")
    monkeypatch.setenv("WEIR_T_DB", "sales")
    write(
        tmp_path,
        "default:\n"
        "  POSTGRES_PORT: {{ env_var('WEIR_T_PORT') }}\n"
        "  POSTGRES_DBNAME: \"{{ env_var('WEIR_T_DB') }}\"\n"
        "  POSTGRES_SCHEMA: \"{{ env_var('WEIR_T_ABSENT', 'public') }}\"\n",
    )
    profile = load_io_config(tmp_path)
    assert profile.get("POSTGRES_PORT") == 6543
    assert profile.get("POSTGRES_DBNAME") == "sales"
    assert profile.get("POSTGRES_SCHEMA") == "public"


def test_missing_env_var_fails_only_when_its_key_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEIR_T_MISSING", raising=False)
    path = write(
        tmp_path,
        "default:\n"
        "  POSTGRES_HOST: db.local\n"
        "  POSTGRES_PASSWORD: \"{{ env_var('WEIR_T_MISSING') }}\"\n",
    )
    profile = load_io_config(tmp_path)
    assert profile.get("POSTGRES_HOST") == "db.local"
    assert "POSTGRES_PASSWORD" not in profile.settings
    with pytest.raises(ConfigError) as caught:
        profile.get("POSTGRES_PASSWORD")
    message = str(caught.value)
    assert "WEIR_T_MISSING" in message
    assert "POSTGRES_PASSWORD" in message
    assert "profile 'default'" in message
    assert str(path.resolve()) in message


def test_missing_env_var_in_another_profile_does_not_matter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEIR_T_PROD_PASSWORD", raising=False)
    write(
        tmp_path,
        "default:\n  DUCKDB_DATABASE: w.duckdb\n"
        "prod:\n  POSTGRES_PASSWORD: \"{{ env_var('WEIR_T_PROD_PASSWORD') }}\"\n",
    )
    assert load_io_config(tmp_path).require("DUCKDB_DATABASE") == "w.duckdb"
    assert "POSTGRES_PASSWORD" in load_io_config(tmp_path, "prod").unresolved


def test_variables_are_rendered_and_a_missing_one_is_deferred(tmp_path: Path) -> None:
    write(
        tmp_path,
        "default:\n"
        "  POSTGRES_SCHEMA: \"{{ variables('schema') }}\"\n"
        "  POSTGRES_DBNAME: \"{{ variables('db') }}\"\n",
    )
    profile = load_io_config(tmp_path, variables={"schema": "staging"})
    assert profile.get("POSTGRES_SCHEMA") == "staging"
    with pytest.raises(ConfigError, match="variable 'db' is not set"):
        profile.require("POSTGRES_DBNAME")


def test_mage_secret_var_is_reported_as_unsupported_on_use(tmp_path: Path) -> None:
    write(tmp_path, "default:\n  POSTGRES_PASSWORD: \"{{ mage_secret_var('pw') }}\"\n")
    profile = load_io_config(tmp_path)
    with pytest.raises(ConfigError, match=r"mage_secret_var\('pw'\) is not supported"):
        profile.get("POSTGRES_PASSWORD")


def test_json_value_reads_inside_a_json_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIR_T_JSON", '{"db": {"host": "h1"}}')
    write(
        tmp_path,
        "default:\n  POSTGRES_HOST: \"{{ json_value(env_var('WEIR_T_JSON'), 'db.host') }}\"\n",
    )
    assert load_io_config(tmp_path).get("POSTGRES_HOST") == "h1"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no io_config\.yaml at") as caught:
        load_io_config(tmp_path)
    assert str(tmp_path.resolve()) in str(caught.value)


def test_malformed_yaml_gives_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "default:\n  A: 1\n  B: [unclosed\n  C: 3\n")
    with pytest.raises(ConfigError, match=r"line \d+: malformed YAML") as caught:
        load_io_config(tmp_path)
    assert str(path.resolve()) in str(caught.value)


def test_malformed_yaml_line_number_is_exact(tmp_path: Path) -> None:
    write(tmp_path, "default:\n  A: 1\n B: 2\n")
    with pytest.raises(ConfigError, match=r"line 3: malformed YAML"):
        load_io_config(tmp_path)


def test_bad_jinja_gives_the_line(tmp_path: Path) -> None:
    write(tmp_path, "default:\n  A: 1\n  B: {{ env_var('X' }}\n")
    with pytest.raises(ConfigError, match=r"line 3: bad Jinja"):
        load_io_config(tmp_path)


def test_undefined_name_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, 'default:\n  A: "{{ typo }}"\n')
    with pytest.raises(ConfigError, match="'typo' is undefined"):
        load_io_config(tmp_path)


def test_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 0.1.1\ndefault:\n  A: 1\nprod:\n  A: 2\n")
    with pytest.raises(ConfigError) as caught:
        load_io_config(tmp_path, "staging")
    message = str(caught.value)
    assert "no profile 'staging'" in message
    assert "profiles: default, prod" in message
    assert str(path.resolve()) in message


def test_version_is_not_a_profile(tmp_path: Path) -> None:
    write(tmp_path, "version: 0.1.1\ndefault:\n  A: 1\n")
    with pytest.raises(ConfigError, match="no profile 'version'"):
        load_io_config(tmp_path, "version")


def test_profile_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "default: just text\n")
    with pytest.raises(ConfigError, match=r"profile 'default' in .* must be a mapping"):
        load_io_config(tmp_path)


def test_require_names_key_profile_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, "dev:\n  A: ''\n")
    profile = load_io_config(tmp_path, "dev")
    with pytest.raises(ConfigError) as caught:
        profile.require("A")
    assert f"A is missing from profile 'dev' in {path.resolve()}" in str(caught.value)
