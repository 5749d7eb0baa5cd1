"""The update in place, as pure functions: what blocks it, which packages it installs and
removes (and keeps), a lock's exact set, and the environment.yml reader behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bootstrap import update
from bootstrap.inputs import file_inputs, file_kind, spec_name, yaml_lists
from bootstrap.update import Package, Plan

OLD: dict[str, Any] = {"python": "3.12", "specs": ["python=3.12", "conda", "mamba", "uv"],
                       "channels": ["conda-forge"], "file": None, "file_sha256": None,
                       "subdir": "linux-64"}


def with_specs(*specs: str) -> dict[str, Any]:
    return {**OLD, "specs": ["python=3.12", *specs]}


def installed(*packages: tuple[str, list[str]]) -> dict[str, Package]:
    return {name: Package(name, f"{name}-1.0-0", tuple(deps)) for name, deps in packages}


BASE = installed(("python", []), ("conda", ["python"]), ("mamba", ["conda"]), ("uv", []))


@pytest.mark.parametrize(("change", "words"), [
    ({"channels": ["conda-forge", "bioconda"]}, "the channels: conda-forge -> conda-forge, "
                                                "bioconda"),
    ({"python": "3.13", "specs": ["python=3.13", "conda"]}, "the Python version: 3.12 -> 3.13"),
    ({"python": None, "specs": ["python", "conda"]}, "the Python version: 3.12 -> none"),
    ({"specs": ["python=3.12", "conda", "python>=3.13"]}, "the python spec"),
    ({"subdir": "win-64"}, "the platform: linux-64 -> win-64"),
    ({"file": "env-lock.yml", "file_sha256": "ab", "file_kind": "conda-lock"},
     "the conda-lock file env-lock.yml"),
    ({"file": "lock.txt", "file_sha256": "ab", "file_kind": "explicit", "specs": []},
     "the kind of package list: specs -> an @EXPLICIT lock"),
    ({"file": "environment.yml", "file_sha256": "ab", "file_kind": "environment",
      "file_specs": ["numpy"], "file_channels": ["bioconda"]},
     "the channels of the environment file: none -> bioconda"),
    ({"file": "environment.yml", "file_sha256": "ab", "file_kind": "environment",
      "file_specs": None, "file_channels": None}, "whose YAML mambaboot cannot compare"),
])
def test_what_cannot_be_changed_in_place_is_named(change: dict[str, Any], words: str) -> None:
    found = update.blockers(OLD, {**OLD, **change})
    assert any(words in text for text in found), found


@pytest.mark.parametrize("change", [
    {"specs": ["python=3.12", "conda", "numpy>=2"]},
    {"python": "3.12.4", "specs": ["python=3.12.4", "conda", "mamba", "uv"]},
    {"file": "environment.yml", "file_sha256": "ab", "file_kind": "environment",
     "file_specs": ["numpy"], "file_channels": []},
    {"file": "lock.txt", "file_sha256": "cd", "file_kind": "explicit"},
])
def test_package_list_changes_have_no_blockers(change: dict[str, Any]) -> None:
    old = {**OLD, "file": "lock.txt", "file_sha256": "ab", "file_kind": "explicit"} \
        if change.get("file_kind") == "explicit" else OLD
    assert update.blockers(old, {**old, **change}) == []


def test_added_and_changed_specs_are_installed_and_dropped_ones_removed() -> None:
    plan = update.plan(OLD, with_specs("conda", "mamba>=2", "numpy"), BASE)
    assert plan == Plan(install=("mamba>=2", "numpy"), remove=("uv",))
    assert update.changes(OLD, with_specs("conda", "mamba>=2", "numpy")) == [
        "specs added: mamba>=2, numpy", "specs removed: mamba, uv"]


def test_a_dropped_spec_still_needed_by_an_installed_package_is_kept() -> None:
    plan = update.plan(OLD, with_specs("mamba", "uv"), BASE)
    assert plan.remove == () and plan.kept == ("conda",)
    assert plan.empty


def test_a_dropped_spec_that_is_not_installed_is_not_removed() -> None:
    old = with_specs("conda", "mamba", "uv", "ghost")
    assert update.plan(old, OLD, BASE).empty


def test_names_compare_without_channel_and_case() -> None:
    old = with_specs("conda", "mamba", "uv", "conda-forge::NumPy")
    packages = {**BASE, "numpy": Package("numpy", "numpy-2.0-0")}
    assert update.plan(old, with_specs("conda", "mamba", "uv", "numpy"), packages).remove == ()
    assert update.plan(old, OLD, packages).remove == ("numpy",)


def test_an_environment_file_change_installs_the_file_and_removes_what_it_dropped() -> None:
    old = {**OLD, "file": "environment.yml", "file_sha256": "ab", "file_kind": "environment",
           "file_specs": ["numpy", "scipy"], "file_channels": []}
    new = {**old, "file_sha256": "cd", "file_specs": ["numpy>=2"]}
    packages = {**BASE, **installed(("numpy", []), ("scipy", ["numpy"]))}
    plan = update.plan(old, new, packages)
    assert (plan.install, plan.remove, plan.with_file) == ((), ("scipy",), True)


def test_a_changed_list_of_specs_is_installed_like_an_environment_file(tmp_path: Path) -> None:
    listing = tmp_path / "specs.txt"
    listing.write_text("# tools\nnumpy>=2\n\n  scipy\n")
    found = file_inputs(listing)
    assert found == {"file_kind": "specs", "file_specs": ["numpy>=2", "scipy"],
                     "file_channels": []}
    old = {**OLD, "file": "specs.txt", "file_sha256": "ab", **found}
    new = {**old, "file_sha256": "cd", "file_specs": ["numpy>=2"]}
    packages = {**BASE, **installed(("numpy", []), ("scipy", []))}
    assert update.plan(old, new, packages) == Plan(remove=("scipy",), with_file=True)


def test_requested_packages_a_removal_took_along_are_missing() -> None:
    assert update.missing(with_specs("conda", "numpy"), BASE) == ["numpy"]
    without_python = {k: v for k, v in BASE.items() if k != "python"}
    assert update.missing(with_specs("conda"), without_python) == ["python=3.12"]


def test_a_lock_is_followed_exactly() -> None:
    lines = ["https://x/noarch/conda-1.0-0.tar.bz2#aa", "https://x/noarch/mamba-2.0-0.conda",
             "https://x/linux-64/numpy-2.1.0-py312_0.conda#bb"]
    plan = update.lock_plan(lines, BASE)
    assert plan.lock_remove == ("mamba", "python", "uv")
    assert plan.lock_install == tuple(lines[1:])
    assert update.dist_of_url(lines[2]) == "numpy-2.1.0-py312_0"


def test_explicit_lines_leave_out_the_header() -> None:
    text = "# platform: linux-64\n@EXPLICIT\n\nhttps://x/a-1-0.conda#11\n"
    assert update.explicit_lines(text) == ["https://x/a-1-0.conda#11"]


def test_conda_meta_records_are_read_by_name(tmp_path: Path) -> None:
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    (meta / "Conda-25.1-py_0.json").write_text(
        '{"name": "Conda", "depends": ["python >=3.9", "conda-forge::ruamel.yaml"]}')
    (meta / "history").write_text("")
    (meta / "broken-1-0.json").write_text("{")
    found = update.read_installed(tmp_path)
    assert found == {"conda": Package("conda", "Conda-25.1-py_0", ("python", "ruamel.yaml"))}


def test_outcome_lists_packages_added_and_removed() -> None:
    after = {**installed(("python", []), ("numpy", [])),
             "conda": Package("conda", "conda-2.0-0")}
    done = update.Outcome.between(BASE, after)
    assert done.added == ["conda-2.0-0", "numpy-1.0-0"]
    assert done.removed == ["conda-1.0-0", "mamba-1.0-0", "uv-1.0-0"]


@pytest.mark.parametrize(("spec", "name"), [
    ("numpy", "numpy"), ("numpy>=2", "numpy"), ("NumPy 1.2.*", "numpy"),
    ("conda-forge::numpy[version='>=2']", "numpy"), ("python=3.12", "python"),
    ("  pip  ", "pip")])
def test_spec_names(spec: str, name: str) -> None:
    assert spec_name(spec) == name


def test_environment_yml_lists_are_read() -> None:
    text = """# comment
name: demo
channels:
  - conda-forge   # the default
dependencies:
- python=3.12
- "numpy>=2"
- pip
- pip:
  - requests
  - - odd
variables:
  A: "- not a spec"
"""
    assert yaml_lists(text) == {"channels": ["conda-forge"],
                                "dependencies": ["python=3.12", "numpy>=2", "pip"]}


def test_environment_yml_flow_lists_and_unknown_yaml() -> None:
    assert yaml_lists("dependencies: [numpy, 'scipy>=1']\n") == {
        "dependencies": ["numpy", "scipy>=1"]}
    assert yaml_lists("dependencies: numpy\n") is None
    assert yaml_lists("just a line\n") is None


def test_file_kinds(tmp_path: Path) -> None:
    kinds = {"env.yml": "", "env-lock.yml": "", "lock.txt": "# x\n@EXPLICIT\nhttps://x\n",
             "specs.txt": "numpy\n"}
    for name, text in kinds.items():
        (tmp_path / name).write_text(text)
    assert [file_kind(tmp_path / n) for n in kinds] == [
        "environment", "conda-lock", "explicit", "specs"]
