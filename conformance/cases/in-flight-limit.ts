/** The max_in_flight a case fills: read from INIT_ACK, checked, and bounded by what a case can afford to open. */
import { CaseFailure, CaseSkipped } from './model.js';

/**
 * The most requests a case opens to reach a peer's max_in_flight. LIM-7 allows up to 1,048,576: a larger
 * limit is no fault, only more than a case sends, so such a peer skips the case.
 */
export const MOST_REQUESTS_A_CASE_OPENS = 4096;

/**
 * The INIT_ACK's max_in_flight when a case can reach it. A value that is not a positive integer fails the
 * case (HS-6) when `malformed` is 'fail', or skips it when the case leaves that fault to the handshake cases.
 */
export function inFlightLimitToReach(ack: Readonly<Record<string, unknown>>, malformed: 'fail' | 'skip'): number {
  const announced = ack['max_in_flight'];
  const limit = Number(announced);
  if (!Number.isInteger(limit) || limit < 1) {
    if (malformed === 'fail') throw new CaseFailure('INIT_ACK announces no usable max_in_flight (HS-6)', 'a positive integer', String(announced));
    throw new CaseSkipped(`INIT_ACK announces no usable max_in_flight (${String(announced)}); the handshake cases judge it`);
  }
  if (limit > MOST_REQUESTS_A_CASE_OPENS) throw new CaseSkipped(`max_in_flight ${limit} is too large to reach in this case`);
  return limit;
}
