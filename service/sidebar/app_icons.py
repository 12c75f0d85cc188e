"""The Zendesk app's icons, drawn here and written as PNG with zlib: no image library needed."""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache

__all__ = ["LOGO_SIZE", "LOGO_SMALL_SIZE", "logo_png", "png_size"]

LOGO_SIZE = 320
"""`assets/logo.png`: Zendesk's app listing and settings page show it at this size."""
LOGO_SMALL_SIZE = 128
"""`assets/logo-small.png`: the icon in the agent's apps panel."""

# ReplayDesk's tile: a play triangle, white on teal.
_TILE = (15, 118, 110)
_MARK = (255, 255, 255)


# Drawing the large logo takes about a second; the same size always gives the same bytes.
@lru_cache(maxsize=4)
def logo_png(size: int) -> bytes:
    """A square RGBA PNG of `size` pixels: a rounded tile with a play triangle on it.

    Each shape is a signed distance (negative inside); a pixel is covered by the part of it
    within half a pixel of the edge, which smooths the corners without supersampling.
    """
    radius = size * 0.18
    # The triangle's tip points right; it sits a little right of centre so that its centroid,
    # where the eye puts its middle, is the tile's.
    left, right = size * 0.36, size * 0.70
    top, bottom = size * 0.27, size * 0.73
    edges = _edge_lines([(left, top), (right, size / 2), (left, bottom)])
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # scanline filter: none
        py = y + 0.5
        for x in range(size):
            px = x + 0.5
            tile = _coverage(_rounded_square_distance(px, py, size, radius))
            if tile == 0:
                rows += b"\x00\x00\x00\x00"
                continue
            mark = _coverage(max(a * px + b * py + c for a, b, c in edges))
            rows += bytes(round(t + (m - t) * mark) for t, m in zip(_TILE, _MARK, strict=True))
            rows.append(round(255 * tile))
    return _png(size, size, bytes(rows))


def _coverage(distance: float) -> float:
    return min(max(0.5 - distance, 0.0), 1.0)


def _rounded_square_distance(x: float, y: float, size: int, radius: float) -> float:
    cx = min(max(x, radius), size - radius)
    cy = min(max(y, radius), size - radius)
    inner = max(radius - x, x - (size - radius), radius - y, y - (size - radius))
    if inner < 0:  # inside the square the corners are cut from: its nearest side decides
        return max(-x, x - size, -y, y - size)
    return float(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 - radius)


def _edge_lines(corners: list[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """Each edge of a clockwise convex polygon as a line a·x + b·y + c, the signed distance
    to it: the polygon is where all are negative, and the largest is the distance to it."""
    lines = []
    for (x1, y1), (x2, y2) in zip(corners, corners[1:] + corners[:1], strict=True):
        a, b = y2 - y1, x1 - x2
        norm = (a * a + b * b) ** 0.5
        a, b = a / norm, b / norm
        lines.append((a, b, -(a * x1 + b * y1)))
    return lines


def _png(width: int, height: int, scanlines: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(scanlines, 9)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header; ValueError when `data` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)
