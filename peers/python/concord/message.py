"""Whole messages: a body decoded through every check of section 8 in order (prefix, header,
type, encoding, payload, arrays, schema), and messages encoded to bodies and frames."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Tuple

from ._spec import CATALOG, CatalogEntry, message_info, proto
from .envelope import ENCODINGS, MAX_HEADER, decode_envelope, encode_envelope
from .errors import ProtocolError
from .framing import encode_frame
from .payload import ENCODINGS as PAYLOAD_ENCODINGS, decode_payload, encode_payload

E = proto.ErrorCode  # error names come from the generated registry, never written by hand

MessageType = proto.MessageType
#: Encodings this peer implements: JSON, and CBOR where cbor2 (Debian python3-cbor2) is installed.
SUPPORTED_ENCODINGS = PAYLOAD_ENCODINGS
#: What a client offers in INIT, preferred first: CBOR where implemented, so that a broker choosing the
#: first it supports (as the reference broker does) lets CBOR senders reach this client (REQ-10).
CLIENT_ENCODINGS = ("cbor", "json") if "cbor" in SUPPORTED_ENCODINGS else ("json",)


@dataclass
class Message:
    type: int
    name: str
    encoding: str
    header: Dict[str, Any]
    payload: Any

    @property
    def id(self) -> str:
        return self.header["id"]

    @property
    def re(self) -> Optional[str]:
        return self.header.get("re")


def accepted_encodings(chosen: Optional[str]) -> Tuple[str, ...]:
    """The encodings a connection accepts once INIT_ACK chose `chosen`: JSON always (ENC-1), CBOR
    only when chosen (ENC-3)."""
    return ("json", "cbor") if chosen == "cbor" and "cbor" in SUPPORTED_ENCODINGS else ("json",)


def decode_message(body: bytes, encodings: Iterable[str] = SUPPORTED_ENCODINGS, max_header: int = MAX_HEADER) -> Message:
    """Decodes a frame body. Faults are ProtocolErrors; `frame_id` is set once the header was readable."""
    env = decode_envelope(body, max_header)
    try:
        info = CATALOG.get(env.type)
        if info is None:
            raise ProtocolError(E.UNKNOWN_TYPE, f"type code 0x{env.type:02x} is not in the catalog", rule="type")
        if env.encoding_bits >= len(ENCODINGS):
            raise ProtocolError(E.UNSUPPORTED_ENCODING, f"payload encoding {env.encoding_bits} is reserved", rule="encoding")
        encoding = ENCODINGS[env.encoding_bits]
        if encoding not in encodings or encoding not in SUPPORTED_ENCODINGS:
            raise ProtocolError(E.UNSUPPORTED_ENCODING, f"payload encoding {encoding} was not negotiated", rule="encoding")
        payload = decode_payload(info, encoding, env.payload)
        return Message(info.code, info.name, encoding, env.header, payload)
    except ProtocolError as e:
        e.frame_id = env.header["id"]
        raise


def _info(type_: Any) -> CatalogEntry:
    try:
        return message_info(type_)
    except (KeyError, ValueError):
        raise ValueError(f"unknown message type {type_!r}") from None


def encode_message(type_: Any, header: Dict[str, Any], payload: Any = None, encoding: str = "json") -> bytes:
    """Encodes a message (type name, code or MessageType) to a frame body, validating the payload."""
    info = _info(type_)
    return encode_envelope(info.code, encoding, header, encode_payload(info, payload, encoding))


def encode_message_frame(type_: Any, header: Dict[str, Any], payload: Any = None, encoding: str = "json") -> bytes:
    """Encodes a message to a whole frame, length prefix included."""
    return encode_frame(encode_message(type_, header, payload, encoding))


__all__ = ["Message", "MessageType", "decode_message", "encode_message", "encode_message_frame", "encode_frame", "SUPPORTED_ENCODINGS",
           "CLIENT_ENCODINGS", "accepted_encodings"]
