"""The ``.jlic`` container: one header, the z stream and the y stream (docs/bitstream.md).

All integers are little-endian. Every field is validated before anything is allocated
from it, and a CRC-32 over the whole file catches corruption before decoding starts.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import numpy as np

from jaxlic.coding.errors import BitstreamError

MAGIC = b"JLIC"
VERSION = 3  # 2: quality code (variable-rate models); 3: exact integer probabilities, latent CRC
MAX_SIDE = 65535
MAX_PIXELS = 1 << 28  # 268 megapixels: refuse larger headers rather than allocate for them
FLAG_ESCAPES = 1

# magic, version, flags, model id, height, width, M, radius, quality, latent CRC, z bytes,
# y bytes
_FIXED = struct.Struct("<4sBB8sHHHBHIII")
_CRC = struct.Struct("<I")


@dataclasses.dataclass(frozen=True)
class Header:
    """What a decoder needs before the payloads.

    Attributes:
      model_id: 8 bytes identifying the weights that wrote the file.
      height, width: original image size in pixels (before padding).
      channels: M, latent (y) channels of the model.
      radius: y symbols are coded in ``-radius..radius`` (edge symbols may be escaped).
      escapes: whether edge symbols are followed by an escape magnitude.
      coded: ``[M]`` bool, channels with at least one non-zero value (others are zero).
      quality: quality code of a variable-rate model (thousandths: 1000 is quality 1,
        see ``jaxlic.coding.gains``); 0 for a fixed-rate model.
      latent_crc: CRC-32 of the quantised latents the encoder coded (``latent_checksum``);
        a decoder that obtains other latents refuses the file.
    """

    model_id: bytes
    height: int
    width: int
    channels: int
    radius: int
    escapes: bool
    coded: np.ndarray
    quality: int = 0
    latent_crc: int = 0


def latent_checksum(z: np.ndarray, y: np.ndarray) -> int:
    """CRC-32 of the hyper latent offsets ``z`` and the latent ``y`` (integers, each raster
    order, as little-endian int32)."""
    crc = zlib.crc32(np.ascontiguousarray(z, "<i4").tobytes())
    return zlib.crc32(np.ascontiguousarray(y, "<i4").tobytes(), crc)


def pack(header: Header, z_bytes: bytes, y_bytes: bytes) -> bytes:
    """The complete file."""
    flags = FLAG_ESCAPES if header.escapes else 0
    fixed = _FIXED.pack(MAGIC, VERSION, flags, header.model_id, header.height, header.width,
                        header.channels, header.radius, header.quality, header.latent_crc,
                        len(z_bytes), len(y_bytes))
    body = fixed + np.packbits(header.coded.astype(np.uint8)).tobytes() + z_bytes + y_bytes
    return body + _CRC.pack(zlib.crc32(body))


def unpack(data: bytes, max_pixels: int = MAX_PIXELS) -> tuple[Header, bytes, bytes]:
    """Parse and validate a file; returns the header and the z and y payloads.

    Raises ``BitstreamError`` for anything that is not a complete, intact file of this
    format and version.
    """
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not a jaxlic file (bad magic number)")
    version = data[len(MAGIC)] if len(data) > len(MAGIC) else VERSION
    if version != VERSION:
        why = ("versions 1 and 2 computed probabilities in float32 and decode reliably only "
               "with the jaxlic build and machine type that wrote them" if version < VERSION
               else "the file comes from a newer jaxlic")
        raise BitstreamError(f"unsupported format version {version}: this jaxlic reads "
                             f"version {VERSION} only ({why})")
    if len(data) < _FIXED.size + _CRC.size:
        raise BitstreamError(f"file truncated: {len(data)} bytes is shorter than the header")
    (_, _, flags, model_id, height, width, channels, radius, quality, latent_crc, z_len,
     y_len) = _FIXED.unpack_from(data)
    if flags & ~FLAG_ESCAPES:
        raise BitstreamError(f"unknown flags 0x{flags:02x}")
    flag_bytes = -(-channels // 8)
    expected = _FIXED.size + flag_bytes + z_len + y_len + _CRC.size
    if len(data) != expected:
        raise BitstreamError(f"file is {len(data)} bytes but its header describes {expected} "
                             "(truncated or corrupted)")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise BitstreamError("checksum mismatch: the file is corrupted")
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE) or height * width > max_pixels:
        raise BitstreamError(f"image size {height}x{width} is out of range")
    if channels == 0 or radius == 0:
        raise BitstreamError("header has zero channels or a zero symbol radius")
    offset = _FIXED.size
    coded = np.unpackbits(np.frombuffer(data, np.uint8, flag_bytes, offset))[:channels] > 0
    offset += flag_bytes
    z_bytes = data[offset: offset + z_len]
    y_bytes = data[offset + z_len: offset + z_len + y_len]
    header = Header(model_id, height, width, channels, radius, bool(flags & FLAG_ESCAPES), coded,
                    quality, latent_crc)
    return header, z_bytes, y_bytes
