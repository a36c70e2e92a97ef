/** Valid payloads for the routed request/response pair the tests use (ENCODING_REQ -> ENCODING_RSP). */
import { messageByName, payloadFromFixture } from '../../codec/index.js';

export function encodingReq(text: string): unknown {
  return { text, dim: 4 };
}

/** An ENCODING_RSP whose `model` carries a marker, so each answer can be matched to its request. */
export function encodingRsp(model: string): unknown {
  const info = messageByName('ENCODING_RSP');
  return payloadFromFixture(info, { ...(info.examples[0] as Record<string, unknown>), model });
}

export function disagreement(id: string): unknown {
  return { coordination_id: id, disagreement_score: 0.5, threshold: 0.25, teacher_ids: ['t1'] };
}
