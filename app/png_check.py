"""Checks that a PNG is whole without decoding it into pixels: every chunk's CRC holds, IEND is
there, and the compressed image data inflates, in bounded pieces, to exactly the bytes that its
header's size, colour type, bit depth and interlacing call for.

Pillow's `load()` would allocate the whole image (4 bytes a pixel: 256 MB for 8000 x 8000), and a
few of those at once in an API thread pool leave the process at gigabytes. This check needs a few
MB whatever the image size. (Row filter bytes are not checked; a worker decoding such an image
fails the job with Pillow's message.)
"""

from __future__ import annotations

import struct
import zlib

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
_PIECE = 1 << 20


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
    """(width, height) of a whole PNG; raises PngDamaged naming what is wrong."""
    if not data.startswith(SIGNATURE):
        raise PngDamaged("no PNG signature")
    position, inflater, inflated, expected = len(SIGNATURE), zlib.decompressobj(), 0, None
    width = height = 0
    while True:
        header = data[position : position + 8]
        if len(header) < 8:
            raise PngDamaged("truncated: the file ends before IEND")
        length, kind = struct.unpack(">I4s", header)
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(body) < length or len(crc) < 4:
            raise PngDamaged(f"truncated inside a {kind!r} chunk")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise PngDamaged(f"the CRC of a {kind!r} chunk is wrong")
        position += 12 + length
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


def _inflate(inflater, compressed: bytes, room: int) -> int:
    """Inflate `compressed` a piece at a time; refuses more than `room` bytes (a bomb)."""
    produced = 0
    pending = compressed
    try:
        while pending and not inflater.eof:
            produced += len(inflater.decompress(pending, _PIECE))
            pending = inflater.unconsumed_tail
            if produced > room:
                raise PngDamaged("the image data inflates to more than its size calls for")
    except zlib.error as error:
        raise PngDamaged(f"the image data is corrupt ({error})") from error
    return produced
