/** What the terminal shows of a case that did not pass: one line of what happened, then its replay command. */
import type { ReportedCase } from './write.js';

const isFailure = (r: ReportedCase): boolean => r.outcome === 'fail' || r.outcome === 'timeout' || r.outcome === 'errored';

/** The progress line of a failure, as it happens (standard error). */
export function failureLine(r: ReportedCase): string {
  return `${r.outcome.toUpperCase()} ${r.id}: ${r.message?.split('\n')[0] ?? ''}\n${r.replay ? `  replay: ${r.replay}\n` : ''}`;
}

/** The failures of a run again, after the summary table (standard output), so a CI log ends with them. */
export function failureList(results: readonly ReportedCase[]): string {
  const bad = results.filter(isFailure);
  if (bad.length === 0) return '';
  return `\nfailures (${bad.length}):\n${bad.map((r) => `  ${r.outcome.toUpperCase()}${r.knownFailing ? ' (known)' : ''} ${r.id}: ${r.message?.split('\n')[0] ?? ''}\n${r.replay ? `    replay: ${r.replay}\n` : ''}`).join('')}`;
}
