"""Checks that a PNG is whole without decoding it into pixels: every chunk's CRC holds, IEND is
there, and the compressed image data inflates, in bounded pieces, to exactly the bytes that its
header's size, colour type, bit depth and interlacing call for.

Pillow's `load()` would allocate the whole image (4 bytes a pixel: 256 MB for 8000 x 8000), and a
few of those at once in an API thread pool leave the process at gigabytes. This check needs a few
MB whatever the image size. (Row filter bytes are not checked; a worker decoding such an image
fails the job with Pillow's message.)

Inflating is most of an upload's CPU time: it goes through ISA-L (`isal`, in the `service` extra),
whose inflate is 2 to 2.5 times as fast as zlib's, where it is installed, through zlib otherwise.
"""

from __future__ import annotations

import importlib
import struct
import zlib
from typing import Any


def _inflate_module() -> Any:
    """isal_zlib (zlib's interface, ISA-L's speed) where installed, else zlib."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:
        return zlib


_inflating = _inflate_module()
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflating.error)

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: (first column, first row, column step, row step).
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_PIECE = 1 << 20  # inflated bytes read back at once
_PIECE_IN = 1 << 16  # compressed bytes fed at once


class PngDamaged(ValueError):
    """The PNG is truncated or corrupt."""


def _row_bytes(width: int, bits_per_pixel: int) -> int:
    return (width * bits_per_pixel + 7) // 8


def expected_data_bytes(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes of the filtered image data: one filter byte and the packed pixels per row."""
    if not interlaced:
        return height * (1 + _row_bytes(width, bits_per_pixel))
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        pass_width = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_height = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pass_width and pass_height:
            total += pass_height * (1 + _row_bytes(pass_width, bits_per_pixel))
    return total


def check_png(data: bytes) -> tuple[int, int]:
    """(width, height) of a whole PNG; raises PngDamaged naming what is wrong. The chunks are read
    through a memoryview, so nothing of the file is copied."""
    if not data.startswith(SIGNATURE):
        raise PngDamaged("no PNG signature")
    view = memoryview(data)
    position, inflater, inflated, expected = len(SIGNATURE), _inflating.decompressobj(), 0, None
    width = height = 0
    while True:
        if len(data) < position + 8:
            raise PngDamaged("truncated: the file ends before IEND")
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 8 + length
        if len(data) < end + 4:
            raise PngDamaged(f"truncated inside a {kind!r} chunk")
        body = view[position + 8 : end]
        if zlib.crc32(body, zlib.crc32(kind)) != struct.unpack_from(">I", data, end)[0]:
            raise PngDamaged(f"the CRC of a {kind!r} chunk is wrong")
        position = end + 4
        if kind == b"IHDR":
            if length != 13:
                raise PngDamaged("IHDR has the wrong length")
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if colour not in _CHANNELS:
                raise PngDamaged(f"unknown colour type {colour}")
            expected = expected_data_bytes(width, height, _CHANNELS[colour] * depth, interlace == 1)
        elif kind == b"IDAT":
            if expected is None:
                raise PngDamaged("IDAT before IHDR")
            inflated += _inflate(inflater, body, expected - inflated)
        elif kind == b"IEND":
            break
    if expected is None:
        raise PngDamaged("no IHDR chunk")
    if not inflater.eof or inflated != expected:
        raise PngDamaged(f"the image data holds {inflated} of {expected} bytes")
    return width, height


def _inflate(inflater, compressed: memoryview, room: int) -> int:
    """Inflate `compressed`, fed a piece at a time and read back at most a piece at a time (so
    neither the output nor zlib's unconsumed tail grows with the image); refuses more than
    `room` bytes (a bomb)."""
    produced = 0
    try:
        for start in range(0, len(compressed), _PIECE_IN):
            pending: bytes | memoryview = compressed[start : start + _PIECE_IN]
            while pending and not inflater.eof:
                produced += len(inflater.decompress(pending, _PIECE))
                pending = inflater.unconsumed_tail
                if produced > room:
                    raise PngDamaged("the image data inflates to more than its size calls for")
            if inflater.eof:
                break
    except _INFLATE_ERRORS as error:
        raise PngDamaged(f"the image data is corrupt ({error})") from error
    return produced
