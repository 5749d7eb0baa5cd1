"""Reading mambaboot.toml (bootstrap.config): known keys, types, and errors that name the
key, the file and the line (DESIGN section 8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap import config
from bootstrap.errors import ConfigError

FULL = """\
# every key of DESIGN section 8
[env]
name = "py"
python = "3.12"
specs = ["conda", "mamba"]
channels = ["conda-forge"]
file = "environment.yml"
prefix = ""
envs_dir = "envs"

[micromamba]
version = "2.3.0-1"
url = "https://mirror.example/{version}/micromamba-{platform}"
sha256 = "ab"

[cache]
dir = "{drive}/CACHE"

[scripts]
dir = "scripts"

[network]
allow_http = false
ca_bundle = "corp.pem"
offline = true

[copy]
"__home__" = "__home__"
"templates/app data" = "AppData"
"""


def write(folder: Path, text: str, name: str = config.CONFIG_NAME) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.exit_code == 2
    return info.value


def test_every_documented_key_loads_with_its_value(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, FULL))
    assert cfg.path == tmp_path / "mambaboot.toml"
    assert cfg.folder == tmp_path
    assert cfg.get("env", "name") == "py"
    assert cfg.get("env", "specs") == ["conda", "mamba"]
    assert cfg.get("env", "prefix") == ""
    assert cfg.get("micromamba", "url") == "https://mirror.example/{version}/micromamba-{platform}"
    assert cfg.get("network", "offline") is True
    assert cfg.get("network", "allow_http") is False
    assert cfg.table("copy") == {"__home__": "__home__", "templates/app data": "AppData"}
    assert cfg.table("micromamba") == {
        "version": "2.3.0-1", "sha256": "ab",
        "url": "https://mirror.example/{version}/micromamba-{platform}"}


def test_missing_keys_read_as_none(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "[env]\nname = \"x\"\n"))
    assert cfg.get("env", "python") is None
    assert cfg.get("cache", "dir") is None
    assert cfg.table("copy") == {}


def test_empty_file_is_a_valid_config(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, "")).values == {}


def test_utf8_values_are_kept(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, '[env]\nenvs_dir = "D:/Umgebungen/äöü"\n'))
    assert cfg.get("env", "envs_dir") == "D:/Umgebungen/äöü"


def test_dotted_keys_are_read_like_tables(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, 'env.name = "dotted"\ncache.dir = "c"\n'))
    assert cfg.get("env", "name") == "dotted"
    assert cfg.get("cache", "dir") == "c"


def test_file_saved_with_a_utf8_bom_loads(tmp_path: Path) -> None:
    # Notepad on Windows (the primary platform) writes "UTF-8 with BOM"
    path = tmp_path / config.CONFIG_NAME
    path.write_bytes(b"\xef\xbb\xbf" + b'[env]\nname = "bom"\n')
    assert config.load(path).get("env", "name") == "bom"


def test_unknown_table_names_table_file_and_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[env]\nname = "x"\n\n[tools]\nx = 1\n')
    assert err.message == f"{tmp_path / 'mambaboot.toml'}, line 4: unknown table [tools]"
    assert err.hint == "Known: cache, copy, env, micromamba, network, scripts."


def test_unknown_key_names_key_table_and_line_and_lists_known_keys(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[env]\nname = "x"\nchanels = ["a"]\n')
    assert err.message == f"{tmp_path / 'mambaboot.toml'}, line 3: unknown key 'chanels' in [env]"
    assert err.hint == ("Known: always_copy, channels, envs_dir, file, name, prefix, python, "
                        "specs.")


def test_key_outside_any_table_is_reported_with_its_line(tmp_path: Path) -> None:
    # forgetting the [env] header is the likely mistake; the error must point at the line
    err = load_error(tmp_path, '# settings\nname = "py"\n')
    assert "name" in err.message
    assert "line 2" in err.message


@pytest.mark.parametrize(("text", "line", "what"), [
    ('[env]\nname = "x"\nspecs = "numpy"\n', 3,
     "[env] specs must be a list of strings, not str 'numpy'"),
    ('[env]\nchannels = ["a", 1]\n', 2,
     "[env] channels must be a list of strings, not list ['a', 1]"),
    ('[env]\npython = 3.12\n', 2, "[env] python must be a string, not float 3.12"),
    ('[network]\noffline = "yes"\n', 2, "[network] offline must be true or false, not str 'yes'"),
    ('[network]\nallow_http = 1\n', 2, "[network] allow_http must be true or false, not int 1"),
    ('[copy]\n"__home__" = 1\n', 2, "[copy] __home__ must be a string, not int 1"),
    ('[env]\n"name" = 5\n', 2, "[env] name must be a string, not int 5"),
    ('env.python = 3.12\n', 1, "[env] python must be a string, not float 3.12"),
])
def test_wrong_types_name_key_expected_type_and_line(tmp_path: Path, text: str, line: int,
                                                     what: str) -> None:
    err = load_error(tmp_path, text)
    assert err.message == f"{tmp_path / 'mambaboot.toml'}, line {line}: {what}"


def test_same_key_in_two_tables_reports_the_right_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[cache]\ndir = "c"\n\n[scripts]\n# here\ndir = 3\n')
    assert ", line 6: [scripts] dir must be a string" in err.message


def test_table_given_as_a_value_is_an_error(tmp_path: Path) -> None:
    err = load_error(tmp_path, 'env = "py"\n')
    assert "key 'env' is outside any table" in err.message
    assert ", line 1:" in err.message


def test_invalid_toml_names_the_file_and_position(tmp_path: Path) -> None:
    err = load_error(tmp_path, '[env]\nname = py\n')
    assert err.message.startswith(f"{tmp_path / 'mambaboot.toml'}: invalid TOML:")
    assert "line 2" in err.message
    assert "strings need quotes" in err.hint


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "mambaboot.toml"
    with pytest.raises(ConfigError) as info:
        config.load(missing)
    assert info.value.exit_code == 2
    assert info.value.message == f"Config file not found: {missing}"
    assert "--config" in info.value.hint


def test_undecodable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / config.CONFIG_NAME
    path.write_bytes(b'[env]\nname = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.exit_code == 2
    assert str(path) in info.value.message


def test_a_folder_given_as_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert str(tmp_path) in info.value.message


def test_find_config_returns_the_first_candidate_holding_one(tmp_path: Path) -> None:
    app, cwd, empty = tmp_path / "app", tmp_path / "cwd", tmp_path / "empty"
    for folder in (app, cwd, empty):
        folder.mkdir()
    write(cwd, "")
    assert config.find_config([empty, cwd]) == cwd / "mambaboot.toml"
    write(app, "")
    assert config.find_config([app, cwd]) == app / "mambaboot.toml"
    assert config.find_config([empty]) is None
    assert config.find_config([]) is None


def test_find_config_ignores_a_folder_named_like_the_config(tmp_path: Path) -> None:
    (tmp_path / "mambaboot.toml").mkdir()
    assert config.find_config([tmp_path]) is None


@pytest.mark.parametrize(("text", "table", "key", "line"), [
    ('[env]\nname = "x"\n', "env", "name", 2),
    ('[env]\nname = "x"\n', "env", None, 1),
    ('  [ env ]  # comment\n\n  name="x"\n', "env", "name", 3),
    ('[cache]\ndir = 1\n[scripts]\ndir = 2\n', "scripts", "dir", 4),
    ('[copy]\n"a b" = "c"\n', "copy", "a b", 2),
    ("[copy]\n'lit' = 'c'\n", "copy", "lit", 2),
    ('env.name = "x"\n', "env", "name", 1),
    ('[env]\nname = "x"\n', "cache", "dir", None),
    ('[env]\nname = "x"\n', "scripts", None, None),
])
def test_line_of(text: str, table: str, key: str | None, line: int | None) -> None:
    assert config.line_of(text, table, key) == line
