/**
 * The TypeScript reference codec of the Concord wire protocol v1.
 * @packageDocumentation
 * @module codec
 */
export { ProtocolError, type ErrorDetails } from './errors.js';
export { FrameDecoder, encodeFrame, type FrameDecoderOptions } from './frame.js';
export { decodeEnvelope, encodeEnvelope, type Envelope, type EnvelopeOptions, type Encoding, ENCODINGS } from './body.js';
export { decodeHeader, encodeHeader, type Header } from './header.js';
export { NDArray, packNDArray, unpackNDArray, dtypeCode, type DtypeName, type TypedData } from './ndarray.js';
export { cborEncode, cborDecode, CBOR_ENCODER_OPTIONS, CBOR_DECODER_OPTIONS } from './cbor.js';
export { decodePayload, encodePayload, payloadToFixture, payloadFromFixture } from './payload.js';
export { checkJsonShape, checkCborShape, depthOf, type ShapeLimits } from './shape.js';
export { decodeMessage, encodeMessage, encodeMessageFrame, type Message, type OutgoingMessage, type DecodeOptions } from './message.js';
export { lookupMessage, messageByCode, messageByName, reachesClient, receivedCode, registryName, responseCodeOf, toRegistryName, type ReceivedCode } from './catalog.js';
export { validatePayload } from './validate.js';
export { isLaterVersion, negotiatedVersion, partsLaterThan, describeLaterParts, type LaterPart } from './versions.js';
export { fromTypedJson, toTypedJson } from './typed-json.js';
export type { PayloadEncoding, ErrorName, ErrorInfo, LimitInfo, MessageInfo, MessageName, MessageNames, ErrorNames, Direction, Level, MessageKind } from '../../spec/generated/catalog.js';
export { MESSAGES, ERRORS, LIMITS, DEFAULT_LIMITS, MessageType, PROTOCOL_VERSION } from '../../spec/generated/catalog.js';
export type * from '../../spec/generated/types.js';
