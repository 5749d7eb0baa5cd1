"""Windows-only calls, each a small seam: junctions, registry reads, console ownership,
job objects and the DLL search path of a frozen build. The decisions built on them are pure
functions elsewhere (``doctor``, ``console``, ``process``) and are tested on every OS;
these calls themselves are exercised by the tests marked ``windows``."""

from __future__ import annotations

import ctypes
import importlib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GRACE_S = 3.0
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
_JOBS: dict[int, int] = {}  # child pid -> job handle


def _kernel32() -> Any:
    return getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009


def create_junction(target: Path, link: Path) -> None:
    """``link`` becomes a directory junction to ``target``; junctions need no admin rights
    (unlike symlinks). CPython's ``_winapi.CreateJunction(src=target, dst=link)``."""
    import _winapi

    getattr(_winapi, "CreateJunction")(str(target), str(link))  # noqa: B009


def read_registry(root: str, key: str, value: str) -> Any:
    """A registry value, or None when the key or value does not exist."""
    winreg: Any = importlib.import_module("winreg")

    hive = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}[root]
    try:
        with winreg.OpenKey(hive, key) as handle:
            return winreg.QueryValueEx(handle, value)[0]
    except OSError:
        return None


def long_paths_enabled() -> bool:
    value = read_registry("HKLM", r"SYSTEM\CurrentControlSet\Control\FileSystem",
                          "LongPathsEnabled")
    return bool(value == 1)


def cmd_autorun() -> dict[str, str]:
    """``Command Processor\\AutoRun`` of HKLM and HKCU that are set (reported, never changed)."""
    found = {}
    for root in ("HKLM", "HKCU"):
        value = read_registry(root, r"Software\Microsoft\Command Processor", "AutoRun")
        if value:
            found[root] = str(value)
    return found


def console_process_count() -> int:
    """How many processes share this console (GetConsoleProcessList); 0 when unknown."""
    from ctypes import wintypes

    kernel32 = _kernel32()
    kernel32.GetConsoleProcessList.argtypes = [ctypes.POINTER(wintypes.DWORD), wintypes.DWORD]
    kernel32.GetConsoleProcessList.restype = wintypes.DWORD
    size = 16
    while True:
        buffer = (wintypes.DWORD * size)()
        count = int(kernel32.GetConsoleProcessList(buffer, size))
        if count <= size:
            return count
        size = count


def is_console(fd: int) -> bool:
    """The file descriptor is a console (GetConsoleMode succeeds), not a file, pipe or the
    NUL device."""
    import msvcrt
    from ctypes import wintypes

    kernel32 = _kernel32()
    kernel32.GetConsoleMode.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
    mode = wintypes.DWORD()
    handle = getattr(msvcrt, "get_osfhandle")(fd)  # noqa: B009 - Windows only
    return bool(kernel32.GetConsoleMode(handle, ctypes.byref(mode)))


def console_code_page() -> int:
    return int(_kernel32().GetConsoleOutputCP())


@contextmanager
def child_dll_search_path() -> Iterator[None]:
    """A frozen build calls SetDllDirectory(its unpack folder), which children inherit;
    reset it while a child starts (PyInstaller docs, "Launching external programs")."""
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass is None:
        yield
        return
    kernel32 = _kernel32()
    kernel32.SetDllDirectoryW(None)
    try:
        yield
    finally:
        kernel32.SetDllDirectoryW(meipass)


class _IoCounters(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]


class _BasicLimits(ctypes.Structure):
    _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64),
                ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", ctypes.c_uint32),
                ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t),
                ("ActiveProcessLimit", ctypes.c_uint32),
                ("Affinity", ctypes.c_size_t),
                ("PriorityClass", ctypes.c_uint32),
                ("SchedulingClass", ctypes.c_uint32)]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [("BasicLimitInformation", _BasicLimits),
                ("IoInfo", _IoCounters),
                ("ProcessMemoryLimit", ctypes.c_size_t),
                ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t),
                ("PeakJobMemoryUsed", ctypes.c_size_t)]


def adopt(proc: subprocess.Popen[bytes]) -> None:
    """Put a freshly started child into a kill-on-close job object, so that stopping the
    job stops every process the child started."""
    kernel32 = _kernel32()
    kernel32.CreateJobObjectW.restype = ctypes.c_void_p
    job = kernel32.CreateJobObjectW(None, None)
    if not job:
        return
    info = _ExtendedLimits()
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    kernel32.SetInformationJobObject(ctypes.c_void_p(job), JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
                                     ctypes.byref(info), ctypes.sizeof(info))
    handle = int(getattr(proc, "_handle"))  # noqa: B009 - Popen keeps the process handle here
    if kernel32.AssignProcessToJobObject(ctypes.c_void_p(job), ctypes.c_void_p(handle)):
        _JOBS[proc.pid] = job
    else:
        kernel32.CloseHandle(ctypes.c_void_p(job))


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """CTRL_BREAK to the child's process group, then terminate its whole job."""
    import signal

    if proc.poll() is None:
        try:
            proc.send_signal(getattr(signal, "CTRL_BREAK_EVENT"))  # noqa: B009
            proc.wait(GRACE_S)
        except (OSError, subprocess.TimeoutExpired):
            pass
    job = _JOBS.pop(proc.pid, None)
    kernel32 = _kernel32()
    if job is not None:
        kernel32.TerminateJobObject(ctypes.c_void_p(job), 1)
        kernel32.CloseHandle(ctypes.c_void_p(job))
    if proc.poll() is None:
        proc.kill()
    deadline = time.monotonic() + GRACE_S
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def release(proc: subprocess.Popen[bytes]) -> None:
    """Close the job handle of a child that ended normally."""
    job = _JOBS.pop(proc.pid, None)
    if job is not None:
        _kernel32().CloseHandle(ctypes.c_void_p(job))


def volume_filesystem(path: Path) -> str:
    """The file system name of the volume holding ``path`` (GetVolumeInformationW)."""
    kernel32 = _kernel32()
    root = ctypes.create_unicode_buffer(1024)
    if not kernel32.GetVolumePathNameW(str(path), root, len(root)):
        return ""
    name = ctypes.create_unicode_buffer(64)
    ok = kernel32.GetVolumeInformationW(root, None, 0, None, None, None, name, len(name))
    return str(name.value) if ok else ""
