"""Draw mambaboot's icon and write ``mambaboot.ico`` next to this script.

Standard library only (no Pillow): every size is rendered from signed distance functions
(a green rounded square with a white stroked "m"), anti-aliased by pixel coverage, encoded
as an RGBA PNG with zlib + struct, and the PNGs are packed into one Windows .ico (PNG
payloads inside an .ico are valid for every size since Windows Vista).

Usage: ``python assets/make_icon.py [OUTPUT.ico]``. The output is deterministic for a
given zlib, so re-running it only changes the file when the drawing changes.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

SIZES = (16, 32, 48, 256)

# The drawing, in a unit square with y pointing down.
BACKGROUND_HALF = 0.47       # half the side of the rounded square
BACKGROUND_RADIUS = 0.20     # its corner radius
TOP = (0x43, 0xB5, 0x6E)     # green, top of the vertical gradient
BOTTOM = (0x1B, 0x7A, 0x45)  # green, bottom
INK = (0xFF, 0xFF, 0xFF)     # the "m"
STEMS = (0.27, 0.50, 0.73)   # x of the three stems of the "m"
STEM_TOP = 0.44              # where the arches start (y of their centres)
STEM_BOTTOM = 0.72
STROKE = 0.105               # stroke width of the "m" (before hinting)

Point = tuple[float, float]


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    """Distance from ``p`` to the segment ``a``-``b``."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _arch_distance(p: Point, centre: Point, radius: float) -> float:
    """Distance from ``p`` to the upper half of a circle (an arch of the "m")."""
    px, py = p
    cx, cy = centre
    if py <= cy:
        return abs(math.hypot(px - cx, py - cy) - radius)
    return min(math.hypot(px - cx + radius, py - cy), math.hypot(px - cx - radius, py - cy))


def m_distance(p: Point, stems: Sequence[float], stroke: float) -> float:
    """Signed distance to the stroked "m": three stems joined by two arches."""
    to_stems = min(_segment_distance(p, (x, STEM_TOP), (x, STEM_BOTTOM)) for x in stems)
    to_arches = min(_arch_distance(p, ((left + right) / 2, STEM_TOP), (right - left) / 2)
                    for left, right in pairwise(stems))
    return min(to_stems, to_arches) - stroke / 2


def hinted(size: int) -> tuple[list[float], float]:
    """Stems and stroke width snapped to the pixel grid, so small sizes stay crisp: an even
    number of pixels wide (at least 2), centred on pixel edges."""
    width = max(2, 2 * round(STROKE * size / 2))
    return [round(x * size) / size for x in STEMS], width / size


def background_distance(p: Point) -> float:
    """Signed distance to the rounded square centred in the unit square."""
    inner = BACKGROUND_HALF - BACKGROUND_RADIUS
    qx, qy = abs(p[0] - 0.5) - inner, abs(p[1] - 0.5) - inner
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - BACKGROUND_RADIUS


def _coverage(distance: float, pixel: float) -> float:
    """The part of a pixel covered by a shape whose edge is ``distance`` away."""
    return max(0.0, min(1.0, 0.5 - distance / pixel))


def render(size: int) -> bytes:
    """The icon at ``size`` x ``size`` as straight (not premultiplied) RGBA rows."""
    pixel = 1.0 / size
    stems, stroke = hinted(size)
    out = bytearray()
    for row in range(size):
        y = (row + 0.5) * pixel
        shade = [round(t + (b - t) * y) for t, b in zip(TOP, BOTTOM, strict=True)]
        for column in range(size):
            p = ((column + 0.5) * pixel, y)
            alpha = _coverage(background_distance(p), pixel)
            ink = _coverage(m_distance(p, stems, stroke), pixel) if alpha else 0.0
            out += bytes(round(c + (i - c) * ink) for c, i in zip(shade, INK, strict=True))
            out.append(round(255 * alpha))
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png(size: int, rgba: bytes) -> bytes:
    """An 8-bit RGBA PNG (colour type 6) of a square image."""
    stride = size * 4
    raw = b"".join(b"\x00" + rgba[row * stride:(row + 1) * stride] for row in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def ico(images: Sequence[tuple[int, bytes]]) -> bytes:
    """An .ico holding one PNG per (size, png) pair: ICONDIR, the entries, the payloads."""
    directory = struct.pack("<HHH", 0, 1, len(images))
    offset = len(directory) + 16 * len(images)
    entries, payloads = b"", b""
    for size, data in images:
        side = 0 if size >= 256 else size  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        payloads += data
        offset += len(data)
    return directory + entries + payloads


def main(argv: Sequence[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).with_name("mambaboot.ico")
    target.write_bytes(ico([(size, png(size, render(size))) for size in SIZES]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
