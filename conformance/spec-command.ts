/**
 * `conformance spec`: the message catalog as a table, or with `--json` as a JSON array of types,
 * a stable interface for tools (fields are only ever added).
 */
import { MESSAGES, PROTOCOL_VERSION } from '../spec/generated/catalog.js';
import { formatTable } from '../reference/table.js';

export interface CatalogEntry {
  code: number;
  hex: string;
  name: string;
  area: string;
  kind: string;
  directions: readonly string[];
  sender: readonly string[];
  receiver: readonly string[];
  response: string | null;
  errors: readonly string[];
  timeout_ms: number | null;
  section: string;
  level: string;
  since: string;
  summary: string;
}

export function catalogEntries(): CatalogEntry[] {
  return MESSAGES.map((m) => ({
    code: m.code,
    hex: `0x${m.code.toString(16).padStart(2, '0').toUpperCase()}`,
    name: m.name,
    area: m.area,
    kind: m.kind,
    directions: m.directions,
    sender: m.sender,
    receiver: m.receiver,
    response: m.response,
    errors: m.errors,
    timeout_ms: m.timeout_ms,
    section: m.section,
    level: m.level,
    since: m.since,
    summary: m.summary,
  }));
}

export function specCommand(json: boolean): string {
  const entries = catalogEntries();
  if (json) return JSON.stringify(entries, null, 2);
  const rows = entries.map((e) => [e.hex, e.name, e.kind, e.directions.join(','), e.response ?? '-', e.area, e.level]);
  return `Concord protocol ${PROTOCOL_VERSION}: ${entries.length} message types\n\n${formatTable(['code', 'name', 'kind', 'directions', 'response', 'area', 'level'], rows)}`;
}
