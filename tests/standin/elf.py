"""Make an ELF file's library search path relative: the in-place rewrite of ``DT_RUNPATH``
(or ``DT_RPATH``) that ``patchelf --set-rpath '$ORIGIN/../lib'`` would do, for the common
case where the new path is not longer than the old one (so no section has to grow).

The string lives in ``.dynstr`` and the dynamic entry points at its offset, so the new
path is written over the old one and padded with NULs. The linker may share the tail of a
string with other names (suffix merging), so the rewrite is refused when any other
reference of the file (needed libraries, symbol names, version names) points inside it.
Only 64-bit little-endian files (x86-64, aarch64) are handled; anything else is returned
unchanged by :func:`relative_runpath`, which is the caller's sign to keep the file as is.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 14, 15, 29
SHT_DYNSYM, SHT_GNU_VERDEF, SHT_GNU_VERNEED = 11, 0x6FFFFFFD, 0x6FFFFFFE
_STRING_TAGS = (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH)


def is_elf64le(data: bytes) -> bool:
    return data[:4] == b"\x7fELF" and data[4:6] == b"\x02\x01"


@dataclass(frozen=True)
class _Dynamic:
    strtab: int  # file offset of .dynstr
    entries: list[tuple[int, int]]  # (tag, value)


def _dynamic(data: bytes) -> _Dynamic | None:
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        p_type, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize)
        if p_type == PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (offset, filesz)
    if dynamic is None:
        return None
    entries = []
    for pos in range(dynamic[0], dynamic[0] + dynamic[1], 16):
        tag, value = struct.unpack_from("<qQ", data, pos)
        if tag == DT_NULL:
            break
        entries.append((tag, value))
    strtab_vaddr = next((v for t, v in entries if t == DT_STRTAB), None)
    for vaddr, offset, size in loads:
        if strtab_vaddr is not None and vaddr <= strtab_vaddr < vaddr + size:
            return _Dynamic(strtab_vaddr - vaddr + offset, entries)
    return None


def _section_string_refs(data: bytes) -> list[int]:
    """Offsets into ``.dynstr`` used by symbol and version names."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    refs: list[int] = []
    for i in range(shnum if shoff else 0):
        _name, sh_type, _flags, _addr, offset, size, _link, info, _align, entsize = \
            struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        if sh_type == SHT_DYNSYM and entsize:
            refs += [struct.unpack_from("<I", data, offset + j * entsize)[0]
                     for j in range(size // entsize)]
        elif sh_type == SHT_GNU_VERNEED:
            refs += _verneed_refs(data, offset, info)
        elif sh_type == SHT_GNU_VERDEF:
            refs += _verdef_refs(data, offset, info)
    return refs


def _verneed_refs(data: bytes, pos: int, count: int) -> list[int]:
    refs = []
    for _ in range(count):
        _version, cnt, file, aux, nxt = struct.unpack_from("<HHIII", data, pos)
        refs.append(file)
        apos = pos + aux
        for _ in range(cnt):
            _hash, _flags, _other, name, anext = struct.unpack_from("<IHHII", data, apos)
            refs.append(name)
            apos += anext
        pos += nxt
    return refs


def _verdef_refs(data: bytes, pos: int, count: int) -> list[int]:
    refs = []
    for _ in range(count):
        _version, _flags, _ndx, cnt, _hash, aux, nxt = struct.unpack_from("<HHHHIII", data, pos)
        apos = pos + aux
        for _ in range(cnt):
            name, anext = struct.unpack_from("<II", data, apos)
            refs.append(name)
            apos += anext
        pos += nxt
    return refs


def runpath(data: bytes) -> str | None:
    """The file's ``DT_RUNPATH`` (or ``DT_RPATH``), None when it has none."""
    if not is_elf64le(data):
        return None
    dyn = _dynamic(data)
    if dyn is None:
        return None
    for tag, value in dyn.entries:
        if tag in (DT_RUNPATH, DT_RPATH):
            start = dyn.strtab + value
            return data[start:data.index(b"\0", start)].decode("utf-8", "replace")
    return None


def relative_runpath(data: bytes, new: str) -> bytes:
    """``data`` with its run path replaced by ``new`` (e.g. ``$ORIGIN/../lib``); unchanged
    when the file has no run path. Raises ValueError when the rewrite would be unsafe."""
    dyn = _dynamic(data) if is_elf64le(data) else None
    if dyn is None:
        return data
    out = bytearray(data)
    encoded = new.encode("utf-8")
    others = [v for t, v in dyn.entries if t in _STRING_TAGS and t not in (DT_RPATH, DT_RUNPATH)]
    others += _section_string_refs(data)
    for tag, value in dyn.entries:
        if tag not in (DT_RUNPATH, DT_RPATH):
            continue
        start = dyn.strtab + value
        end = data.index(b"\0", start)
        if len(encoded) > end - start:
            raise ValueError(f"run path {new!r} is longer than the old one")
        if any(value < ref <= value + (end - start) for ref in others):
            raise ValueError("the run path string is shared with another name")
        out[start:end] = encoded.ljust(end - start, b"\0")
    return bytes(out)
