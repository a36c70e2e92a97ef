"""Concord wire protocol v1 for Python: framing, envelope, ndarray, JSON payloads with schema
validation, and a client library. Standard library plus numpy; CBOR payloads through cbor2 (Debian
python3-cbor2) when it is installed."""
from ._spec import CATALOG, SPEC_DIR, message_info, proto, reaches_client
from .errors import ProtocolError, pointer
from .framing import FrameDecoder, encode_frame
from .message import Message, MessageType, decode_message, encode_message, encode_message_frame
from .ndarray import NDArray, pack as pack_ndarray, unpack as unpack_ndarray
from .ipc import IPCClient

PROTOCOL_VERSION = proto.PROTOCOL_VERSION
__version__ = "0.1.0"

__all__ = [
    "CATALOG", "SPEC_DIR", "message_info", "reaches_client", "proto", "ProtocolError", "pointer", "FrameDecoder", "encode_frame",
    "Message", "MessageType", "decode_message", "encode_message", "encode_message_frame", "NDArray",
    "pack_ndarray", "unpack_ndarray", "PROTOCOL_VERSION", "__version__", "IPCClient",
]
