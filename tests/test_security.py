"""Security rules of issue 5, checked in the source and in behaviour: no shell anywhere;
cmd.exe argument text built by one tested module; downloaded binaries made executable only
after verification; archive members that escape rejected; post-install scripts only from
the configured folder; TLS verification never switched off."""

from __future__ import annotations

import ast
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path, PureWindowsPath

import pytest

from bootstrap import cmdline, launch, micromamba, scripts
from bootstrap.errors import ChecksumError
from bootstrap.platform import POSIX
from bootstrap.report import ProgressFn, Recorder
from tests.conftest import REPO
from tests.project import Project
from tests.standin.archives import Member, file_member, link_member, special_member, tar_bz2
from tests.standin.fixtures import MicromambaRelease
from tests.standin.inprocess import project_settings
from tests.winargv import CmdBatchModel, parse_crt

fault = pytest.mark.fault
SOURCES = sorted((REPO / "bootstrap").glob("*.py"))
EXEC_BITS = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def parsed() -> Iterator[tuple[Path, ast.Module]]:
    for path in [*SOURCES, REPO / "build.spec"]:
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def dotted(node: ast.expr) -> str:
    """``subprocess.run`` for an attribute chain or a name, "" otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else ""
    return ""


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def functions_calling(name: str) -> set[str]:
    """``module:function`` of every function in bootstrap/ whose body calls ``name``."""
    found = set()
    for path, tree in parsed():
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                    dotted(c.func).rsplit(".", 1)[-1] == name for c in calls(func)):
                found.add(f"{path.stem}:{func.name}")
    return found


# -- no shell ---------------------------------------------------------------------------------

SHELL_CALLS = {"os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput",
               "asyncio.create_subprocess_shell", "pty.spawn"}


@fault("security", "shell=True or a shell-string API anywhere in bootstrap/ or build.spec",
       expect="none: every child is started from an argument list")
def test_no_shell_anywhere() -> None:
    problems, started = [], 0
    for path, tree in parsed():
        for call in calls(tree):
            name = dotted(call.func)
            started += name.startswith("subprocess.")
            if name in SHELL_CALLS or name.startswith("os.spawn") or name.startswith("os.exec"):
                problems.append(f"{path.name}:{call.lineno} {name}")
            for keyword in call.keywords:
                truthy = not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
                if keyword.arg == "shell" and truthy:
                    problems.append(f"{path.name}:{call.lineno} shell=...")
    assert started >= 3, "the scan found the subprocess calls it is meant to check"
    assert problems == []


# -- cmd.exe argument text ----------------------------------------------------------------------

CMD_NASTY = ["a & b", "x ^ y", "100%", "%PATH%", "wow!", "!VAR!", "(x86)", "a;b", 'say "hi"',
             "C:\\dir with space\\", "Zoë 日本", "| < >", "", "\\\\server\\share\\", "^&^|"]


@fault("security", "arguments reaching cmd.exe (& ^ % ! ( ) ; quotes, spaces, non-ASCII)",
       expect="written only by bootstrap.cmdline, carried in variables, never in the wrapper "
              "text; read back unchanged by the C runtime rules and, for batch files, by "
              "cmd's rules")
def test_cmd_argument_text_comes_only_from_cmdline(
        fault_count: Callable[[int], None]) -> None:
    assert functions_calling("command_line") <= {"launch:plan_command", "launch:execute"}
    assert functions_calling("cmd_invocation") <= {"cmdline:command_line",
                                                   "launch:command_line"}
    assert functions_calling("list2cmdline") <= {"process:describe"}, "display only"
    cmd_lines = {f"{path.stem}:{node.lineno}": {dotted(v.value) for v in node.values
                                                 if isinstance(v, ast.FormattedValue)}
                 for path, tree in parsed() for node in ast.walk(tree)
                 if isinstance(node, ast.JoinedStr)
                 and any(isinstance(v, ast.Constant) and " /S " in str(v.value)
                         for v in node.values)}
    assert [c.split(":")[0] for c in cmd_lines] == ["cmdline"], cmd_lines
    (interpolated,) = cmd_lines.values()
    assert interpolated <= {"switch", "text"}, "only text quoted by cmdline in cmd's line"
    win = launch.WindowsLauncher()
    for kind in cmdline.Kind:
        plan = win.plan_command([PureWindowsPath(r"C:\env\etc\conda\activate.d\x.bat")],
                                ["prog", *CMD_NASTY], kind)
        text = plan.wrapper.decode("ascii")
        for arg in CMD_NASTY:
            if arg.strip():
                assert arg not in text, f"{arg!r} reached the wrapper text"
        line = f"{plan.env[launch.PROGRAM_VAR]} {plan.env[launch.ARGS_VAR]}"
        if kind is cmdline.Kind.PROGRAM:
            assert parse_crt(line, strict=True) == ["prog", *CMD_NASTY]
        if kind is cmdline.Kind.BATCH:
            call = CmdBatchModel(plan.env).run(plan.env[launch.ARGS_VAR])
            assert [call.tilde(n) for n in range(1, len(call.params))] == [
                a.replace('"', '""') for a in CMD_NASTY]
    fault_count(len(CMD_NASTY))


# -- executable only after verification ---------------------------------------------------------

class Watcher(Recorder):
    """A reporter whose progress callback looks at the download folder mid-transfer."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.seen: list[tuple[str, int]] = []

    def progress(self, what: str) -> ProgressFn:
        def look(done: int, total: int | None) -> None:
            self.seen += [(p.name, p.stat().st_mode) for p in self.folder.iterdir()
                          if p.is_file()]

        return look


@fault("security", "downloaded micromamba: when does it become executable",
       expect="the `.part` file never is; the binary is, only once renamed after its sha256 "
              "matched")
def test_binary_is_made_executable_only_after_verification(
        project: Project, micromamba_release: MicromambaRelease, tmp_path: Path) -> None:
    settings = project_settings(project, tmp_path)
    folder = Path(settings.layout.micromamba_dir(settings.micromamba.version))
    watcher = Watcher(folder)
    target, digest = micromamba.fetch_into_cache(settings, watcher)
    assert watcher.seen, "the download was observed while it ran"
    for name, mode in watcher.seen:
        assert name.endswith(".part"), f"{name} appeared before verification"
        assert not mode & EXEC_BITS, f"{name} was executable mid-download"
    assert digest == micromamba_release.sha256
    assert target.stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize("suffix", [
    pytest.param("", id="raw-binary"), pytest.param(".tar.bz2", id="conda-package")])
@fault("security", "downloaded micromamba that does not match its pinned sha256",
       expect="exit 5; no file left in the cache at all, so nothing executable")
def test_mismatching_download_leaves_no_file(
        project: Project, micromamba_release: MicromambaRelease, tmp_path: Path,
        suffix: str) -> None:
    project.write_config(micromamba=f'sha256 = "{"0" * 64}"',
                         url=micromamba_release.url_template + suffix)
    settings = project_settings(project, tmp_path)
    with pytest.raises(ChecksumError):
        micromamba.fetch_into_cache(settings, Recorder())
    folder = Path(settings.layout.micromamba_dir(settings.micromamba.version))
    assert [p for p in folder.rglob("*") if p.is_file()] == []


# -- archive extraction ---------------------------------------------------------------------------

GOOD = file_member("bin/micromamba", b"#!/bin/sh\necho 2.8.1\n")


@pytest.mark.parametrize("hostile", [
    pytest.param(file_member("../escape", b"x"), id="dot-dot"),
    pytest.param(file_member("bin/../../escape", b"x"), id="dot-dot-inside"),
    pytest.param(link_member("bin/evil", "../../../etc/passwd"), id="symlink-out"),
    pytest.param(link_member("bin/evil", "/etc/passwd"), id="symlink-absolute"),
    pytest.param(link_member("bin/evil", "../../outside", hard=True), id="hardlink-out"),
    pytest.param(special_member("bin/dev"), id="device"),
])
@fault("security", "conda package members that escape, link out, or are devices",
       expect="exit 5 `Rejected archive ... unsafe` (the data filter's rules); nothing written")
def test_extract_member_rejects_unsafe_members(tmp_path: Path, hostile: Member) -> None:
    archive = tmp_path / "pkg" / "micromamba.tar.bz2"
    archive.parent.mkdir()
    archive.write_bytes(tar_bz2([hostile, GOOD]))
    with pytest.raises(ChecksumError) as caught:
        micromamba.extract_member(archive, "bin/micromamba")
    assert "Rejected archive" in caught.value.message and "unsafe" in caught.value.message
    assert [p.name for p in archive.parent.iterdir()] == [archive.name], "nothing extracted"


MEMBERS = [
    file_member("bin/micromamba", b"x"), file_member("./info/index.json", b"{}"),
    file_member("/abs/re-rooted", b"x"), file_member("../escape", b"x"),
    file_member("a/../../escape", b"x"), file_member("a/./b/../c", b"x"),
    link_member("lib/a.so", "a.so.1"), link_member("lib/a", "../bin/b"),
    link_member("lib/a", "../../b"), link_member("lib/a", "/etc/passwd"),
    link_member("bin/b", "bin/a", hard=True), link_member("bin/b", "../a", hard=True),
    special_member("bin/dev"), special_member("bin/fifo", tarfile.FIFOTYPE),
]


@pytest.mark.skipif(not hasattr(tarfile, "data_filter"), reason="no tarfile.data_filter "
                    "(Python < 3.11.4) to compare with")
@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: f"{m.info.name}->{m.info.linkname}")
def test_unsafe_member_agrees_with_tarfiles_data_filter(member: Member) -> None:
    try:
        tarfile.data_filter(member.info, "/nonexistent-dest")
        filter_says_unsafe = False
    except tarfile.FilterError:
        filter_says_unsafe = True
    assert (micromamba.unsafe_member(member.info) is not None) == filter_says_unsafe


def test_extract_member_reads_a_safe_package(tmp_path: Path) -> None:
    archive = tmp_path / "micromamba.tar.bz2"
    archive.write_bytes(tar_bz2([file_member("info/index.json", b"{}"), GOOD]))
    assert micromamba.extract_member(archive, "bin/micromamba") == GOOD.data


@fault("security", "conda package member with an absolute path",
       expect="re-rooted as by the data filter (a leading / is dropped), read into memory "
              "only; nothing is written anywhere")
def test_absolute_member_is_never_written(tmp_path: Path) -> None:
    target = tmp_path / "absolute-target"
    archive = tmp_path / "pkg" / "micromamba.tar.bz2"
    archive.parent.mkdir()
    # tar names are POSIX: "/" + the target's path below its root (on Windows, on this drive)
    absolute = "/" + target.relative_to(target.anchor).as_posix()
    archive.write_bytes(tar_bz2([file_member(absolute, b"x"), GOOD]))
    assert micromamba.extract_member(archive, "bin/micromamba") == GOOD.data
    assert not target.exists()
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]


@fault("security", "archive extraction in bootstrap/",
       expect="tarfile is only read member by member, each checked by the data filter's "
              "rules; no extract()/extractall() anywhere")
def test_archive_extraction_goes_through_the_data_filter() -> None:
    extracting = [f"{path.name}:{call.lineno}" for path, tree in parsed() for call in calls(tree)
                  if dotted(call.func).rsplit(".", 1)[-1] in ("extract", "extractall")
                  and not any(k.arg == "filter" for k in call.keywords)]
    assert extracting == []
    assert functions_calling("unsafe_member") == {"micromamba:extract_member"}
    assert functions_calling("extractfile") == {"micromamba:extract_member"}


# -- post-install scripts --------------------------------------------------------------------

@pytest.mark.posix  # symbolic links (Wine makes none) and FIFOs (POSIX only)
@fault("security", "post-install scripts: links out, hidden, nested, folders, FIFOs",
       expect="only regular files of the configured folder run, in name order")
def test_scripts_come_only_from_the_configured_folder(tmp_path: Path) -> None:
    folder, outside = tmp_path / "scripts", tmp_path / "elsewhere"
    (folder / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "payload.sh").write_text("echo outside\n")
    for name in ("20-ok.sh", "10-ok.py", ".hidden.sh", "_private.sh", "notes.txt",
                 "sub/30-nested.sh"):
        (folder / name).write_text("exit 0\n")
    (folder / "40-link-out.sh").symlink_to(outside / "payload.sh")
    (folder / "45-link-nested.sh").symlink_to(folder / "sub" / "30-nested.sh")
    (folder / "50-link-in.sh").symlink_to(folder / "20-ok.sh")
    (folder / "60-folder.sh").mkdir()
    os.mkfifo(folder / "70-fifo.sh")
    found = [s.name for s in scripts.discover(folder, POSIX)]
    assert found == ["10-ok.py", "20-ok.sh", "50-link-in.sh"]


# -- TLS ----------------------------------------------------------------------------------------

@fault("security", "TLS verification switched off in the source",
       expect="never: no verify=False, CERT_NONE, check_hostname=False, unverified "
              "contexts or silenced urllib3 warnings")
def test_tls_verification_is_never_disabled_in_the_source() -> None:
    forbidden = ("verify=False", "CERT_NONE", "check_hostname = False",
                 "check_hostname=False", "_create_unverified_context", "disable_warnings",
                 "PYTHONHTTPSVERIFY", "verify = False")
    found = [f"{path.name}: {word}" for path in SOURCES
             for word in forbidden if word in path.read_text(encoding="utf-8")]
    assert found == []
    assert functions_calling("SSLContext") == {"download:__init__"}, "truststore's, only"
