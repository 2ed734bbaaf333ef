"""lib0 variable-length integers and byte strings, read with bounds checks.

Every reader takes untrusted bytes: a length is checked against what is left before anything is
sliced, so a crafted prefix cannot make us (or pycrdt after us) allocate what the message does not
carry. (pycrdt's own `Decoder` trusts its input.) Writing is pycrdt's: `write_var_uint`, and
`write_message` for a length-prefixed byte string.
"""

from __future__ import annotations

MAX_VARUINT_BYTES = 8  # 56 bits: above JavaScript's 2**53 integers, which lib0 never writes


class DecodeError(ValueError):
    """The bytes are not what the protocol says they should be."""


class Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def read_u8(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError("unexpected end of message")
        byte = self.data[self.pos]
        self.pos += 1
        return byte

    def read_var_uint(self) -> int:
        data, pos, end = self.data, self.pos, len(self.data)
        value = 0
        shift = 0
        for _ in range(MAX_VARUINT_BYTES):
            if pos >= end:
                raise DecodeError("unexpected end of message in a varuint")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if byte == 0 and shift:
                    # `81 00` also reads as 1: a second spelling of a number would let a frame
                    # pass a check on its raw bytes (the presence rate limit) as something else.
                    raise DecodeError("non-canonical varuint (a trailing zero byte)")
                self.pos = pos
                return value
            shift += 7
        raise DecodeError("varuint too long")

    def read_var_int(self) -> int:
        first = self.read_u8()
        negative = bool(first & 0x40)
        value = first & 0x3F
        shift = 6
        byte = first
        count = 1
        while byte & 0x80:
            if count >= MAX_VARUINT_BYTES:
                raise DecodeError("varint too long")
            byte = self.read_u8()
            value |= (byte & 0x7F) << shift
            shift += 7
            count += 1
        return -value if negative else value

    def read_bytes(self, length: int) -> bytes:
        if length > self.remaining:
            raise DecodeError(f"claims {length} bytes, {self.remaining} left")
        start = self.pos
        self.pos += length
        return bytes(self.data[start : self.pos])

    def skip(self, length: int) -> None:
        if length > self.remaining:
            raise DecodeError(f"claims {length} bytes, {self.remaining} left")
        self.pos += length

    def read_var_bytes(self) -> bytes:
        return self.read_bytes(self.read_var_uint())

    def skip_var_bytes(self) -> None:
        self.skip(self.read_var_uint())

    def read_var_string(self) -> str:
        raw = self.read_var_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError("string is not UTF-8") from exc

    def read_count(self) -> int:
        """A count of following elements; each takes at least one byte, so a count larger than
        what is left is a lie, caught here before anyone allocates for it."""
        count = self.read_var_uint()
        if count > self.remaining:
            raise DecodeError(f"claims {count} elements, {self.remaining} bytes left")
        return count
