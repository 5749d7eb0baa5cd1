"""Resolving a run's settings (bootstrap.settings): command line, then the config file, then
environment variables, then defaults (DESIGN 3.1), with a hand-made ``Host``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootstrap import config, settings
from bootstrap.errors import ConfigError
from bootstrap.platform import POSIX
from bootstrap.settings import Host, Overrides

SHA = "0123456789abcdef" * 4


@dataclass
class World:
    """A fake machine under tmp_path: working folder, executable folder, drive, user cache."""

    root: Path

    def __post_init__(self) -> None:
        for folder in (self.cwd, self.app, self.drive, self.user_cache, self.project):
            folder.mkdir(parents=True, exist_ok=True)

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def app(self) -> Path:
        return self.root / "usb" / "tools"

    @property
    def drive(self) -> Path:
        return self.root / "usb"

    @property
    def user_cache(self) -> Path:
        return self.root / "home" / ".cache" / "mambaboot"

    @property
    def project(self) -> Path:
        return self.root / "project"

    def host(self, environ: Mapping[str, str] | None = None, *,
             app_dir: Path | None = None) -> Host:
        return Host(POSIX, self.cwd, app_dir, dict(environ or {}), self.drive, self.user_cache,
                    "linux-64")

    def config(self, text: str, folder: Path | None = None) -> config.ConfigFile:
        path = (folder or self.project) / config.CONFIG_NAME
        path.write_text(text, encoding="utf-8")
        return config.load(path)

    def resolve(self, over: Overrides | None = None, environ: Mapping[str, str] | None = None,
                cfg: str | None = None) -> settings.Settings:
        loaded = self.config(cfg) if cfg is not None else None
        return settings.resolve(over or Overrides(), self.host(environ), loaded)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def config_error(world: World, over: Overrides | None = None,
                 environ: Mapping[str, str] | None = None,
                 cfg: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        world.resolve(over, environ, cfg)
    assert info.value.exit_code == 2
    return info.value


# -- defaults ------------------------------------------------------------------------------

def test_no_home_and_no_cache_folder_asks_for_one(world: World) -> None:
    """A stripped environment (no USERPROFILE, no LOCALAPPDATA) has no per-user cache: a
    clear error, unless the cache is given or a {drive}/CACHE exists."""
    host = dataclasses.replace(world.host(), user_cache=None)
    with pytest.raises(ConfigError) as info:
        settings.resolve(Overrides(), host, None)
    assert info.value.exit_code == 2
    assert "--cache-dir" in info.value.hint
    given = settings.resolve(Overrides(cache_dir=str(world.root / "c")), host, None)
    assert given.cache_dir == world.root / "c"
    (world.drive / "CACHE").mkdir()
    assert settings.resolve(Overrides(), host, None).cache_dir == world.drive / "CACHE"


def test_defaults_without_config_or_environment(world: World) -> None:
    s = world.resolve()
    assert s.name == "py"
    assert s.python is None
    assert s.envs_dir == world.cwd
    assert s.prefix == world.cwd / "py"
    assert s.cache_dir == world.user_cache
    assert s.pkgs_dir == world.user_cache / "pkgs"
    assert s.root_dir == world.user_cache / "root"
    assert s.specs == ("python", "conda", "mamba", "uv")
    assert s.channels == ("conda-forge",)
    assert s.env_file is None
    assert s.config_file is None
    assert s.config_dir == world.cwd
    assert s.scripts_dir is None
    assert s.copy_dirs == tuple((world.cwd / n, n) for n in ("__shortcut__", "__home__",
                                                               "__AppData__"))
    assert s.micromamba == settings.MicromambaRequest()
    assert (s.offline, s.allow_http, s.ca_bundle) == (False, False, None)
    assert s.subdir == "linux-64"


def test_python_version_names_the_prefix_and_pins_the_spec(world: World) -> None:
    s = world.resolve(Overrides(name="work", python="3.12"))
    assert s.prefix == world.cwd / "work_3_12"
    assert s.specs == ("python=3.12", "conda", "mamba", "uv")


def test_reference_layout_on_the_drive_is_the_default_envs_root(world: World) -> None:
    envs = world.drive / "dev" / "Anaconda" / "envs"
    envs.mkdir(parents=True)
    s = world.resolve(Overrides(python="3.11"))
    assert s.envs_dir == envs
    assert s.prefix == envs / "py_3_11"


def test_drive_cache_is_the_default_cache_with_the_new_layout(world: World) -> None:
    (world.drive / "CACHE").mkdir()
    s = world.resolve()
    assert s.cache_dir == world.drive / "CACHE"
    assert s.pkgs_dir == world.drive / "CACHE" / "pkgs"


def test_legacy_python_pkgs_layout_of_a_prepared_stick_is_kept(world: World) -> None:
    legacy = world.drive / "CACHE" / "Python" / "pkgs"
    legacy.mkdir(parents=True)
    (world.drive / "CACHE" / "pkgs").mkdir()
    s = world.resolve()
    assert s.cache_dir == world.drive / "CACHE"
    assert s.pkgs_dir == legacy


# -- precedence ----------------------------------------------------------------------------

@pytest.mark.parametrize(("cli", "cfg", "env", "expected"), [
    ("cli", "cfg", "env", "cli"),
    (None, "cfg", "env", "cfg"),
    (None, None, "env", "env"),
    (None, None, None, "py"),
    ("cli", None, "env", "cli"),
])
def test_name_precedence_cli_then_config_then_environment(world: World, cli: str | None,
                                                          cfg: str | None, env: str | None,
                                                          expected: str) -> None:
    s = world.resolve(Overrides(name=cli), {"MAMBABOOT_NAME": env} if env else {},
                      f'[env]\nname = "{cfg}"\n' if cfg else "")
    assert s.name == expected
    assert s.prefix.name == expected


def test_python_precedence(world: World) -> None:
    environ = {"MAMBABOOT_PYTHON": "3.10"}
    assert world.resolve(environ=environ).python == "3.10"
    assert world.resolve(environ=environ, cfg='[env]\npython = "3.11"\n').python == "3.11"
    assert world.resolve(Overrides(python="3.12"), environ,
                         '[env]\npython = "3.11"\n').python == "3.12"


def test_envs_dir_precedence_and_bases(world: World) -> None:
    environ = {"MAMBABOOT_ENVS_DIR": "from-env", "PY_ENVS": "from-py-envs"}
    cfg = '[env]\nenvs_dir = "from-config"\n'
    # command line: relative to the working folder
    assert world.resolve(Overrides(envs_dir="from-cli"), environ, cfg).envs_dir \
        == world.cwd / "from-cli"
    # config file: relative to the config file's folder
    assert world.resolve(environ=environ, cfg=cfg).envs_dir == world.project / "from-config"
    # environment: MAMBABOOT_ENVS_DIR before the reference script's PY_ENVS, both from cwd
    assert world.resolve(environ=environ).envs_dir == world.cwd / "from-env"
    assert world.resolve(environ={"PY_ENVS": "from-py-envs"}).envs_dir \
        == world.cwd / "from-py-envs"


def test_py_envs_as_the_reference_script_uses_it(world: World) -> None:
    envs = world.root / "D" / "envs"
    s = world.resolve(Overrides(python="3.12"), {"PY_ENVS": str(envs)})
    assert s.prefix == envs / "py_3_12"


def test_explicit_prefix_beats_envs_dir_and_name(world: World) -> None:
    s = world.resolve(Overrides(prefix="here/env", envs_dir="elsewhere", name="x",
                                python="3.12"))
    assert s.prefix == world.cwd / "here" / "env"
    assert s.envs_dir == world.cwd / "elsewhere"


def test_prefix_precedence(world: World) -> None:
    # MAMBABOOT_PREFIX is what post-install scripts see; it never selects a prefix.
    environ = {"MAMBABOOT_PREFIX": str(world.root / "p-env")}
    cfg = '[env]\nprefix = "p-cfg"\n'
    assert world.resolve(environ=environ).prefix != world.root / "p-env"
    assert world.resolve(environ=environ, cfg=cfg).prefix == world.project / "p-cfg"
    assert world.resolve(Overrides(prefix=str(world.root / "p-cli")), environ, cfg).prefix \
        == world.root / "p-cli"


def test_cache_dir_precedence(world: World) -> None:
    (world.drive / "CACHE").mkdir()
    environ = {"MAMBABOOT_CACHE_DIR": "c-env"}
    cfg = '[cache]\ndir = "c-cfg"\n'
    assert world.resolve(environ=environ).cache_dir == world.cwd / "c-env"
    assert world.resolve(environ=environ, cfg=cfg).cache_dir == world.project / "c-cfg"
    s = world.resolve(Overrides(cache_dir="c-cli"), environ, cfg)
    assert s.cache_dir == world.cwd / "c-cli"
    assert s.pkgs_dir == world.cwd / "c-cli" / "pkgs"


def test_empty_values_do_not_override(world: World) -> None:
    s = world.resolve(Overrides(), {"MAMBABOOT_NAME": "", "PY_ENVS": ""},
                      '[env]\nname = ""\nenvs_dir = ""\nprefix = ""\n')
    assert s.name == "py"
    assert s.prefix == world.cwd / "py"


def test_relative_config_paths_are_relative_to_the_config_folder(world: World) -> None:
    (world.project / "my scripts").mkdir()
    (world.project / "tpl").mkdir()
    s = world.resolve(cfg="""
[env]
file = "env/environment.yml"
envs_dir = "../envs"
[cache]
dir = "cache"
[network]
ca_bundle = "corp.pem"
[scripts]
dir = "my scripts"
[copy]
"tpl" = "home"
""")
    assert s.config_file == world.project / "mambaboot.toml"
    assert s.config_dir == world.project
    assert s.env_file == world.project / "env" / "environment.yml"
    assert s.envs_dir == world.root / "envs"
    assert s.prefix == world.root / "envs" / "py"
    assert s.cache_dir == world.project / "cache"
    assert s.ca_bundle == world.project / "corp.pem"
    assert s.scripts_dir == world.project / "my scripts"
    assert s.copy_dirs == ((world.project / "tpl", "home"),)


def test_environment_paths_are_relative_to_the_working_folder(world: World) -> None:
    s = world.resolve(environ={"MAMBABOOT_FILE": "env.yml", "MAMBABOOT_CA_BUNDLE": "ca.pem"})
    assert s.env_file == world.cwd / "env.yml"
    assert s.ca_bundle == world.cwd / "ca.pem"


@pytest.mark.parametrize("source", ["cli", "config", "env"])
def test_drive_placeholder_expands_to_the_executables_drive(world: World, source: str) -> None:
    value = "{drive}/dev/envs"
    over = Overrides(envs_dir=value) if source == "cli" else Overrides()
    environ = {"PY_ENVS": value} if source == "env" else {}
    cfg = f'[env]\nenvs_dir = "{value}"\n' if source == "config" else None
    s = world.resolve(over, environ, cfg)
    assert s.envs_dir == world.drive / "dev" / "envs"
    assert world.resolve(cfg='[cache]\ndir = "{drive}/CACHE"\n').cache_dir \
        == world.drive / "CACHE"


def test_conda_pkgs_dirs_from_the_environment_is_used_as_is(world: World) -> None:
    pkgs = world.root / "shared pkgs"
    s = world.resolve(environ={"CONDA_PKGS_DIRS": f"{pkgs},{world.root / 'second'}"})
    assert s.pkgs_dir == pkgs
    assert world.resolve(environ={"CONDA_PKGS_DIRS": "rel/pkgs"}).pkgs_dir \
        == world.cwd / "rel" / "pkgs"
    assert world.resolve(environ={"CONDA_PKGS_DIRS": ""}).pkgs_dir == world.user_cache / "pkgs"


# -- specs and channels ----------------------------------------------------------------------

def test_configured_specs_replace_the_defaults_and_cli_specs_are_added(world: World) -> None:
    s = world.resolve(Overrides(python="3.12", specs=("numpy>=2", "conda")),
                      cfg='[env]\nspecs = ["conda", "pandas"]\n')
    assert s.specs == ("python=3.12", "conda", "pandas", "numpy>=2")
    assert world.resolve(cfg="[env]\nspecs = []\n").specs == ("python",)


def test_specs_from_the_environment_are_a_comma_list(world: World) -> None:
    s = world.resolve(environ={"MAMBABOOT_SPECS": " numpy , ,scipy "})
    assert s.specs == ("python", "numpy", "scipy")


@pytest.mark.parametrize("spec", ["", "  ", "-c", "--override-channels", "numpy\n--offline",
                                  " --offline"])
def test_invalid_specs_are_config_errors(world: World, spec: str) -> None:
    err = config_error(world, Overrides(specs=(spec,)))
    assert err.message == f"--spec: Invalid package spec {spec!r}."


def test_channel_precedence(world: World) -> None:
    environ = {"MAMBABOOT_CHANNELS": "env-a, env-b"}
    cfg = '[env]\nchannels = ["cfg"]\n'
    assert world.resolve(environ=environ).channels == ("env-a", "env-b")
    assert world.resolve(environ=environ, cfg=cfg).channels == ("cfg",)
    assert world.resolve(Overrides(channels=("cli1", "cli2")), environ, cfg).channels \
        == ("cli1", "cli2")


def test_empty_channel_list_is_a_config_error(world: World) -> None:
    err = config_error(world, cfg="[env]\nchannels = []\n")
    assert "No channel given" in err.message


# -- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("over", "environ", "cfg", "text"), [
    (Overrides(name="a/b"), {}, None, "Invalid environment name 'a/b'"),
    (Overrides(), {"MAMBABOOT_NAME": "CON"}, None, "Invalid environment name 'CON'"),
    (Overrides(), {}, '[env]\nname = "x."\n', "Invalid environment name 'x.'"),
    (Overrides(python="3"), {}, None, "Invalid Python version '3'"),
    (Overrides(), {}, '[env]\npython = "py3"\n', "Invalid Python version 'py3'"),
    (Overrides(), {"MAMBABOOT_PYTHON": "3.x"}, None, "Invalid Python version '3.x'"),
])
def test_invalid_values_from_any_source_are_config_errors(world: World, over: Overrides,
                                                          environ: dict[str, str],
                                                          cfg: str | None, text: str) -> None:
    assert text in config_error(world, over, environ, cfg).message


@pytest.mark.parametrize("dest", ["../outside", "a/../../b", "/abs/dest"])
def test_copy_destination_must_stay_inside_the_prefix(world: World, dest: str) -> None:
    err = config_error(world, cfg=f'[copy]\n"tpl" = "{dest}"\n')
    assert "destination must be a folder inside the environment" in err.message


def test_scripts_folder_defaults_to_scripts_beside_the_config(world: World) -> None:
    assert world.resolve(cfg="").scripts_dir is None
    (world.project / "scripts").mkdir()
    assert world.resolve(cfg="").scripts_dir == world.project / "scripts"
    # without a config file: beside the executable
    (world.app / "scripts").mkdir()
    s = settings.resolve(Overrides(), world.host(app_dir=world.app))
    assert s.scripts_dir == world.app / "scripts"
    assert s.config_dir == world.app


def test_flags_from_cli_or_config(world: World) -> None:
    s = world.resolve(cfg="[network]\noffline = true\nallow_http = true\n")
    assert (s.offline, s.allow_http) == (True, True)
    s = world.resolve(Overrides(offline=True, allow_http=True))
    assert (s.offline, s.allow_http) == (True, True)
    s = world.resolve(cfg="[network]\noffline = false\n")
    assert s.offline is False


# -- micromamba ------------------------------------------------------------------------------

def test_micromamba_option_as_version(world: World) -> None:
    assert world.resolve().micromamba.download_url("linux-64") == (
        "https://github.com/mamba-org/micromamba-releases/releases/latest/download/"  # text only
        "micromamba-linux-64")
    request = world.resolve(Overrides(micromamba="2.3.0-1")).micromamba
    assert (request.version, request.path, request.url) == ("2.3.0-1", None, None)
    assert request.download_url("win-64") == (
        "https://github.com/mamba-org/micromamba-releases/releases/download/2.3.0-1/"  # text only
        "micromamba-win-64")


def test_micromamba_option_as_url(world: World) -> None:
    url = "https://mirror.example/mm/micromamba-2.3.0-1.tar.bz2"
    request = world.resolve(Overrides(micromamba=url)).micromamba
    assert request.url == url
    assert request.path is None
    assert request.download_url("linux-64") == url


def test_micromamba_option_as_path_relative_to_cwd(world: World) -> None:
    exe = world.cwd / "bin dir" / "micromamba"
    exe.parent.mkdir()
    exe.write_bytes(b"")
    request = world.resolve(Overrides(micromamba="bin dir/micromamba")).micromamba
    assert request.path == exe
    assert request.url is None


def test_micromamba_path_that_is_not_a_file_is_a_config_error(world: World) -> None:
    err = config_error(world, Overrides(micromamba="tools/micromamba.exe"))
    assert err.message == ("--micromamba: micromamba 'tools/micromamba.exe': no such file "
                           f"({world.cwd / 'tools' / 'micromamba.exe'}), and not a URL or a "
                           "version.")
    (world.cwd / "mmdir").mkdir()
    assert "no such file" in config_error(world, Overrides(micromamba="mmdir")).message


def test_micromamba_from_config(world: World) -> None:
    request = world.resolve(cfg=f"""
[micromamba]
version = "2.3.0-1"
url = "https://mirror.example/{{version}}/micromamba-{{platform}}"
sha256 = "{SHA.upper()}"
""").micromamba
    assert request.version == "2.3.0-1"
    assert request.sha256 == SHA
    assert request.download_url("osx-arm64") == "https://mirror.example/2.3.0-1/micromamba-osx-arm64"


def test_micromamba_precedence_cli_config_environment(world: World) -> None:
    environ = {"MAMBABOOT_MICROMAMBA": "2.0.0", "MAMBABOOT_MICROMAMBA_SHA256": "e" * 64}
    cfg = f'[micromamba]\nversion = "2.1.0"\nsha256 = "{"c" * 64}"\n'
    assert world.resolve(environ=environ).micromamba.version == "2.0.0"
    assert world.resolve(environ=environ).micromamba.sha256 == "e" * 64
    from_cfg = world.resolve(environ=environ, cfg=cfg).micromamba
    assert (from_cfg.version, from_cfg.sha256) == ("2.1.0", "c" * 64)
    from_cli = world.resolve(Overrides(micromamba="2.2.0", micromamba_sha256="a" * 64),
                             environ, cfg).micromamba
    assert (from_cli.version, from_cli.sha256) == ("2.2.0", "a" * 64)


def test_environment_micromamba_applies_when_the_config_only_pins_the_hash(world: World) -> None:
    # the config says nothing about which micromamba, so the variable decides
    s = world.resolve(environ={"MAMBABOOT_MICROMAMBA": "2.0.0"},
                      cfg=f'[micromamba]\nsha256 = "{SHA}"\n')
    assert s.micromamba.version == "2.0.0"
    assert s.micromamba.sha256 == SHA


def test_environment_version_applies_to_a_configured_mirror_template(world: World) -> None:
    s = world.resolve(environ={"MAMBABOOT_MICROMAMBA": "2.0.0"},
                      cfg='[micromamba]\nurl = "https://mirror.example/{version}/mm-{platform}"\n')
    assert s.micromamba.download_url("linux-64") == "https://mirror.example/2.0.0/mm-linux-64"


def test_cli_version_applies_to_a_configured_mirror_template(world: World) -> None:
    s = world.resolve(Overrides(micromamba="2.3.0-1"),
                      cfg='[micromamba]\nurl = "https://mirror.example/{version}/mm-{platform}"\n')
    assert s.micromamba.download_url("win-64") == "https://mirror.example/2.3.0-1/mm-win-64"


@pytest.mark.parametrize(("over", "cfg", "text"), [
    (Overrides(micromamba_sha256="abc"), None, "Invalid micromamba sha256 'abc'"),
    (Overrides(micromamba_sha256="g" * 64), None, "Invalid micromamba sha256"),
    (Overrides(), '[micromamba]\nsha256 = "aa"\n', "Invalid micromamba sha256 'aa'"),
    (Overrides(), '[micromamba]\nversion = "newest"\n', "Invalid micromamba version 'newest'"),
    (Overrides(), '[micromamba]\nversion = "2.3"\n', "Invalid micromamba version '2.3'"),
    (Overrides(), '[micromamba]\nurl = "https://m.example/{ver}/mm"\n',
     "Invalid micromamba url template"),
    (Overrides(), '[micromamba]\nurl = "https://m.example/{version/mm"\n',
     "Invalid micromamba url template"),
    (Overrides(), '[micromamba]\nurl = "https://m.example/{version}/mm-{platform"\n',
     "Invalid micromamba url template"),
    (Overrides(), '[micromamba]\nurl = "https://m.example/{version}/mm}-{platform}"\n',
     "Invalid micromamba url template"),
])
def test_invalid_micromamba_settings_are_config_errors(world: World, over: Overrides,
                                                       cfg: str | None, text: str) -> None:
    assert text.lower() in config_error(world, over, cfg=cfg).message.lower()


# -- finding the config ----------------------------------------------------------------------

def test_load_config_prefers_the_explicit_option(world: World) -> None:
    world.config('[env]\nname = "project"\n')
    world.config('[env]\nname = "cwd"\n', world.cwd)
    over = Overrides(config="../project/mambaboot.toml")
    cfg = settings.load_config(over, world.host())
    assert cfg is not None
    assert cfg.get("env", "name") == "project"


def test_load_config_from_the_environment_variable(world: World) -> None:
    world.config('[env]\nname = "viaenv"\n')
    cfg = settings.load_config(Overrides(), world.host(
        {"MAMBABOOT_CONFIG": str(world.project / "mambaboot.toml")}))
    assert cfg is not None
    assert cfg.get("env", "name") == "viaenv"


def test_load_config_next_to_the_executable_before_the_working_folder(world: World) -> None:
    world.config('[env]\nname = "cwd"\n', world.cwd)
    found = settings.load_config(Overrides(), world.host())
    assert found is not None
    assert found.get("env", "name") == "cwd"
    world.config('[env]\nname = "app"\n', world.app)
    found = settings.load_config(Overrides(), world.host(app_dir=world.app))
    assert found is not None
    assert found.get("env", "name") == "app"


def test_load_config_without_any_is_none(world: World) -> None:
    assert settings.load_config(Overrides(), world.host(app_dir=world.app)) is None
    assert settings.load_config(Overrides(), world.host()) is None


def test_explicit_config_that_is_missing_is_a_config_error(world: World) -> None:
    with pytest.raises(ConfigError) as info:
        settings.load_config(Overrides(config="nope.toml"), world.host())
    assert info.value.exit_code == 2
    assert str(world.cwd / "nope.toml") in info.value.message


def test_cache_named_on_the_command_line_or_config_beats_conda_pkgs_dirs(world: World) -> None:
    environ = {"CONDA_PKGS_DIRS": str(world.root / "inherited-pkgs")}
    assert world.resolve(environ=environ).pkgs_dir == world.root / "inherited-pkgs"
    given = world.resolve(Overrides(cache_dir="c-cli"), environ)
    assert given.pkgs_dir == world.cwd / "c-cli" / "pkgs"
    configured = world.resolve(environ=environ, cfg='[cache]\ndir = "c-cfg"\n')
    assert configured.pkgs_dir == world.project / "c-cfg" / "pkgs"


def test_an_empty_copy_table_turns_copying_off(world: World) -> None:
    assert world.resolve(cfg="[copy]\n").copy_dirs == ()
    assert [d for _, d in world.resolve(cfg="[env]\n").copy_dirs] == [
        "__shortcut__", "__home__", "__AppData__"]


def test_a_micromamba_url_has_a_cache_folder_of_its_own(world: World) -> None:
    by_url = world.resolve(Overrides(micromamba="https://mirror.example/mm/micromamba"))
    assert by_url.micromamba.cache_key.startswith("url-")
    assert by_url.micromamba.cache_key != world.resolve().micromamba.cache_key
    assert world.resolve(Overrides(micromamba="2.3.0-1")).micromamba.cache_key == "2.3.0-1"
