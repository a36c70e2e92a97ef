/** A `target` that is not an address the harness can test (a usage error, exit 64). */
export class TargetError extends Error {
  override name = 'TargetError';
}
