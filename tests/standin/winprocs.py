"""Processes on Windows for tests (procs.py uses it there): the process list with command
lines, and Ctrl+C or Ctrl+Break delivered to a child's console as when a user presses it.

The command line comes from each process's PEB (``ProcessBasicInformation``, then
``ReadProcessMemory``): Wine implements no ``ProcessCommandLineInformation``, and its
``wmic`` leaves the column empty. A child that a test will interrupt is started in a
console of its own (``NEW_CONSOLE``); a helper process attaches to that console and raises
the event there, so the test process itself never receives it.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
from ctypes import wintypes
from typing import Any

NEW_CONSOLE = 0x00000010  # CREATE_NEW_CONSOLE
CTRL_C, CTRL_BREAK = 0, 1
_QUERY_AND_READ = 0x0400 | 0x0010  # PROCESS_QUERY_INFORMATION | PROCESS_VM_READ
_TH32CS_SNAPPROCESS = 0x2
_PARAMETERS_AT, _COMMAND_LINE_AT = 0x20, 0x70  # 64-bit PEB and RTL_USER_PROCESS_PARAMETERS

_RAISE = r"""import ctypes, signal, sys
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.FreeConsole()
if not kernel32.AttachConsole(int(sys.argv[1])):
    sys.exit(f"AttachConsole({sys.argv[1]}) failed: {ctypes.get_last_error()}")
kernel32.SetConsoleCtrlHandler(None, True)  # this helper ignores Ctrl+C
signal.signal(signal.SIGBREAK, signal.SIG_IGN)  # and Ctrl+Break
if not kernel32.GenerateConsoleCtrlEvent(int(sys.argv[2]), 0):
    sys.exit(f"GenerateConsoleCtrlEvent failed: {ctypes.get_last_error()}")
"""


class _Entry(ctypes.Structure):
    _fields_ = [("dwSize", wintypes.DWORD), ("cntUsage", wintypes.DWORD),
                ("th32ProcessID", wintypes.DWORD), ("th32DefaultHeapID", ctypes.c_size_t),
                ("th32ModuleID", wintypes.DWORD), ("cntThreads", wintypes.DWORD),
                ("th32ParentProcessID", wintypes.DWORD), ("pcPriClassBase", ctypes.c_long),
                ("dwFlags", wintypes.DWORD), ("szExeFile", ctypes.c_wchar * 260)]


class _BasicInformation(ctypes.Structure):
    _fields_ = [("ExitStatus", ctypes.c_long), ("PebBaseAddress", ctypes.c_void_p),
                ("AffinityMask", ctypes.c_size_t), ("BasePriority", ctypes.c_long),
                ("UniqueProcessId", ctypes.c_size_t),
                ("InheritedFromUniqueProcessId", ctypes.c_size_t)]


class _UnicodeString(ctypes.Structure):
    _fields_ = [("Length", wintypes.USHORT), ("MaximumLength", wintypes.USHORT),
                ("Buffer", ctypes.c_void_p)]


def _kernel32() -> Any:
    kernel32 = getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009
    kernel32.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.ReadProcessMemory.argtypes = [wintypes.HANDLE, ctypes.c_void_p, ctypes.c_void_p,
                                           ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    return kernel32


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process; the exe name when the command
    line cannot be read."""
    kernel32 = _kernel32()
    snapshot = kernel32.CreateToolhelp32Snapshot(_TH32CS_SNAPPROCESS, 0)
    entry = _Entry()
    entry.dwSize = ctypes.sizeof(entry)
    found = []
    more = kernel32.Process32FirstW(wintypes.HANDLE(snapshot), ctypes.byref(entry))
    while more:
        pid = int(entry.th32ProcessID)
        found.append((pid, int(entry.th32ParentProcessID),
                      command_line(kernel32, pid) or str(entry.szExeFile)))
        more = kernel32.Process32NextW(wintypes.HANDLE(snapshot), ctypes.byref(entry))
    kernel32.CloseHandle(wintypes.HANDLE(snapshot))
    return found


def command_line(kernel32: Any, pid: int) -> str | None:
    handle = kernel32.OpenProcess(_QUERY_AND_READ, False, pid)
    if not handle:
        return None
    try:
        info = _BasicInformation()
        ntdll = getattr(ctypes, "WinDLL")("ntdll")  # noqa: B009
        if ntdll.NtQueryInformationProcess(wintypes.HANDLE(handle), 0, ctypes.byref(info),
                                           ctypes.sizeof(info), None) != 0:
            return None
        parameters = ctypes.c_void_p()
        _read(kernel32, handle, (info.PebBaseAddress or 0) + _PARAMETERS_AT, parameters)
        text = _UnicodeString()
        _read(kernel32, handle, (parameters.value or 0) + _COMMAND_LINE_AT, text)
        buffer = ctypes.create_unicode_buffer(text.Length // 2 + 1)
        _read(kernel32, handle, text.Buffer or 0, buffer, text.Length)
        return buffer.value
    except OSError:
        return None
    finally:
        kernel32.CloseHandle(wintypes.HANDLE(handle))


def _read(kernel32: Any, handle: int, address: int, into: Any, size: int = 0) -> None:
    done = ctypes.c_size_t()
    if not kernel32.ReadProcessMemory(wintypes.HANDLE(handle), ctypes.c_void_p(address),
                                      ctypes.byref(into), size or ctypes.sizeof(into),
                                      ctypes.byref(done)):
        raise OSError(getattr(ctypes, "get_last_error")(), "ReadProcessMemory")  # noqa: B009


def console_event(pid: int, event: int) -> None:
    """Ctrl+C (``CTRL_C``) or Ctrl+Break in the console of ``pid`` (started with
    ``NEW_CONSOLE``): every process attached to it receives the event."""
    python = getattr(sys, "_base_executable", sys.executable)  # not a venv's redirector
    done = subprocess.run([python, "-I", "-c", _RAISE, str(pid), str(event)],
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise AssertionError(f"could not raise console event {event} for {pid}: "
                             f"{done.stderr.strip()} (exit code {done.returncode})")


def terminate(pid: int) -> None:
    """TerminateProcess: what Task Manager's End task does (no handler runs)."""
    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(0x0001, False, pid)  # PROCESS_TERMINATE
    if handle:
        kernel32.TerminateProcess(wintypes.HANDLE(handle), 1)
        kernel32.CloseHandle(wintypes.HANDLE(handle))
