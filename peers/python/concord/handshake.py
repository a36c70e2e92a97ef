"""Opening a connection: TCP connect, INIT, and the INIT_ACK (or ERROR) that answers it (section 6)."""
from __future__ import annotations

import socket
import time
from typing import Any, Dict, List, Tuple

from ._spec import proto
from .client_errors import RemoteError
from .errors import ProtocolError
from .framing import FrameDecoder
from .message import SUPPORTED_ENCODINGS, decode_message, encode_message_frame

E = proto.ErrorCode
M = proto.MessageName


def _read_frame(sock: socket.socket, decoder: FrameDecoder, queued: List[Any], deadline: float) -> bytes:
    """The next body; a framing fault that follows whole frames in the same chunk is queued after
    them (as a ProtocolError entry) for the receive loop to answer."""
    while not queued:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no INIT_ACK in time")
        sock.settimeout(remaining)
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the broker closed the connection during the handshake")
        try:
            queued.extend(decoder.push(chunk))
        except ProtocolError as fault:
            queued.extend(fault.frames_before)
            fault.frames_before = []
            queued.append(fault)
    first = queued.pop(0)
    if isinstance(first, ProtocolError):
        try:  # a framing fault before INIT_ACK: answer it, then give up on this connection
            sock.sendall(encode_message_frame(M.ERROR, {"id": "handshake-fault"}, first.to_payload()))
        except OSError:
            pass
        raise first
    return first


def _open_once(host: str, port: int, init: Dict[str, Any], timeout: float) -> Tuple[socket.socket, Dict[str, Any], FrameDecoder, List[bytes]]:
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = FrameDecoder(max_frame=init["max_frame"])
        sock.sendall(encode_message_frame(M.INIT, {"id": "1"}, init))
        queued: List[Any] = []
        body = _read_frame(sock, decoder, queued, time.monotonic() + timeout)
        m = decode_message(body, encodings=SUPPORTED_ENCODINGS)
        if m.name == M.ERROR:
            e = m.payload
            raise RemoteError(e.get("code", E.INTERNAL), e.get("message", ""), e.get("definite"), e.get("details"))
        if m.name != M.INIT_ACK or m.header.get("re") != "1":
            raise ProtocolError(E.PROTOCOL_VIOLATION, f"expected INIT_ACK, got {m.name}")
        if m.payload.get("encoding") not in SUPPORTED_ENCODINGS:
            raise ProtocolError(E.PROTOCOL_VIOLATION, f"the broker chose encoding {m.payload.get('encoding')}, not offered")
        sock.settimeout(None)
        return sock, m.payload, decoder, queued
    except BaseException:
        sock.close()
        raise
