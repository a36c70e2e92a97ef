"""Framing (section 2): u32 big-endian length, then the body. Any chunking; max_frame is checked
on the 4 prefix bytes, before a single body byte is kept."""
from __future__ import annotations

from typing import List, Optional

from ._spec import proto
from .errors import ProtocolError

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

LENGTH_PREFIX_BYTES = proto.LENGTH_PREFIX_BYTES
MAX_FRAME = proto.MAX_FRAME


def encode_frame(body: bytes) -> bytes:
    """Prepends the length prefix to a body."""
    if len(body) == 0:
        raise ValueError("encode_frame: a body is never empty")
    if len(body) > 0xFFFFFFFF:
        raise ValueError("encode_frame: body exceeds 2^32 - 1 bytes")
    return len(body).to_bytes(LENGTH_PREFIX_BYTES, "big") + bytes(body)


class FrameDecoder:
    """Incremental decoder: push() returns the bodies a chunk completes. A framing fault raises a
    ProtocolError whose `frames_before` holds the bodies completed earlier in the same chunk; the
    decoder then stays failed (the stream can no longer be delimited)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._prefix = bytearray()
        self._body: Optional[bytearray] = None
        self._need = 0
        self.failed: Optional[ProtocolError] = None

    @property
    def mid_frame(self) -> bool:
        """True when a frame has started but not finished (an end of stream now truncates it)."""
        return len(self._prefix) > 0 or self._body is not None

    @property
    def buffered_bytes(self) -> int:
        return len(self._prefix) + (len(self._body) if self._body is not None else 0)

    def push(self, chunk: bytes) -> List[bytes]:
        if self.failed is not None:
            raise self.failed
        out: List[bytes] = []
        try:
            self._consume(chunk, out)
        except ProtocolError as e:
            e.frames_before = out
            raise
        return out

    def _consume(self, chunk: bytes, out: List[bytes]) -> None:
        i, n = 0, len(chunk)
        while i < n:
            if self._body is None:
                take = min(LENGTH_PREFIX_BYTES - len(self._prefix), n - i)
                self._prefix += chunk[i:i + take]
                i += take
                if len(self._prefix) < LENGTH_PREFIX_BYTES:
                    continue
                length = self._check_length(int.from_bytes(self._prefix, "big"))
                self._prefix = bytearray()
                if n - i >= length:  # the whole body is in this chunk
                    out.append(bytes(chunk[i:i + length]))
                    i += length
                    continue
                self._body = bytearray()
                self._need = length
                continue
            take = min(self._need - len(self._body), n - i)
            self._body += chunk[i:i + take]
            i += take
            if len(self._body) == self._need:
                out.append(bytes(self._body))
                self._body = None
                self._need = 0

    def _check_length(self, length: int) -> int:
        if length == 0:
            self._fail(ProtocolError(E.MALFORMED_FRAME, "frame length is 0", rule="zero-length"))
        if length > self.max_frame:
            self._fail(ProtocolError(E.FRAME_TOO_LARGE, f"frame length {length} exceeds max_frame {self.max_frame}",
                                     rule="max-frame", limit=self.max_frame))
        return length

    def _fail(self, error: ProtocolError) -> None:
        self.failed = error
        self._prefix = bytearray()
        self._body = None
        self._need = 0
        raise error
