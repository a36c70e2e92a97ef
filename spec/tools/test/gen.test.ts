import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec, SpecError, SPEC_DIR } from '../load.js';
import { check } from '../gen.js';

function specCopy(edit: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'concord-spec-'));
  cpSync(SPEC_DIR, dir, { recursive: true, filter: (src) => !src.includes('/generated') });
  edit(dir);
  return dir;
}

function editJson(path: string, edit: (data: any) => void): void {
  const data = JSON.parse(readFileSync(path, 'utf8'));
  edit(data);
  writeFileSync(path, JSON.stringify(data, null, 2));
}

describe('gen:check', () => {
  it('passes on the committed tree', async () => {
    expect(await check()).toEqual([]);
  });

  it('fails with a readable diff when a schema changes without regeneration', async () => {
    const spec = loadSpec();
    const ping = spec.messages.find((m) => m.name === 'REASONING_REQUEST')!;
    (ping.payload!['properties'] as Record<string, { description?: string }>)['context']!.description = 'Changed without running npm run gen.';
    const problems = await check(undefined, spec);
    expect(problems.some((p) => p.startsWith('spec/generated/catalog.ts: stale'))).toBe(true);
    expect(problems.some((p) => p.startsWith('spec/generated/types.ts: stale'))).toBe(true);
    expect(problems.join('\n')).toContain('+ ');
    expect(problems.join('\n')).toContain('Changed without running npm run gen.');
  });
});

describe('spec loader', () => {
  it('loads the waivers, and refuses one of an unknown, a non-required or a twice-waived statement, or without a reason', () => {
    expect(loadSpec().waivers.map((w) => w.id)).toContain('FIX-1');
    const cases: [(w: any[]) => void, RegExp][] = [
      [(w) => w.push({ id: 'XYZ-1', reason: 'a reason long enough for the meta-schema to accept' }), /XYZ-1 is not a statement/],
      [(w) => w.push({ id: 'CONV-3', reason: 'a reason long enough for the meta-schema to accept' }), /CONV-3 is recommended; only required statements are waived/],
      [(w) => w.push({ ...w[0] }), /is waived twice/],
      [(w) => w.push({ id: 'ENC-7' }), /waivers.json\/waivers\/\d+: must have required property 'reason'/],
    ];
    for (const [edit, message] of cases) {
      const dir = specCopy((d) => editJson(join(d, 'waivers.json'), (f) => edit(f.waivers)));
      try {
        expect(() => loadSpec(dir)).toThrow(message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('rejects a payload field without a description (meta-schema)', () => {
    const dir = specCopy((d) => editJson(join(d, 'messages', 'reasoning.json'), (a) => {
      delete a.messages[0].payload.properties.context.description;
    }));
    try {
      expect(() => loadSpec(dir)).toThrow(SpecError);
      expect(() => loadSpec(dir)).toThrow(/messages\/reasoning.json\/messages\/0\/payload\/properties\/context/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('rejects a field `since` that is required, not later than its type, later than the protocol, or not a version (VER-3)', () => {
    const dir = specCopy((d) => {
      editJson(join(d, 'messages', 'system.json'), (a) => {
        const stats = a.messages.find((m: { name: string }) => m.name === 'STATS_RESPONSE');
        stats.payload.required.push('cluster');
        stats.payload.properties.uptime_ms.since = '1.0';
      });
      editJson(join(d, 'defs.json'), (f) => { f.$defs.ReasoningResult.properties.cached.since = '1.9'; });
      editJson(join(d, 'messages', 'reasoning.json'), (a) => { a.messages[0].payload.properties.context.since = 'soon'; });
    });
    try {
      expect(() => loadSpec(dir)).toThrow(/messages\/reasoning.json\/messages\/0\/payload\/properties\/context\/since/);
      editJson(join(dir, 'messages', 'reasoning.json'), (a) => { delete a.messages[0].payload.properties.context.since; });
      expect(() => loadSpec(dir)).toThrow(/STATS_RESPONSE \/cluster: a field of a later version \(1\.1\) must be optional/);
      expect(() => loadSpec(dir)).toThrow(/STATS_RESPONSE \/uptime_ms: since 1\.0 is not later than the type's 1\.0/);
      expect(() => loadSpec(dir)).toThrow(/REASONING_RESPONSE \/cached: since 1\.9 is later than the protocol version 1\.1/);
      expect(() => loadSpec(dir)).toThrow(/BATCH_REASONING_RSP \/results\/\*\/result\/cached: since 1\.9/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('rejects two types with one code, and a response that is not a message', () => {
    const dir = specCopy((d) => editJson(join(d, 'messages', 'memory.json'), (a) => {
      a.messages[0].code = 0x10;
      a.messages[1].response = 'NO_SUCH_TYPE';
    }));
    try {
      expect(() => loadSpec(dir)).toThrow(/message code 16 is used by (REASONING_REQUEST and MEMORY_UPDATE|MEMORY_UPDATE and REASONING_REQUEST)/);
      expect(() => loadSpec(dir)).toThrow(/ENCODING_REQ: response NO_SUCH_TYPE is not a message/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('rejects an error that a message names but the registry lacks', () => {
    const dir = specCopy((d) => editJson(join(d, 'messages', 'system.json'), (a) => {
      a.messages[0].errors.push('NOT_AN_ERROR');
    }));
    try {
      expect(() => loadSpec(dir)).toThrow(/INIT: error NOT_AN_ERROR is not in errors.json/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('rejects framing data whose masks do not split the flags byte', () => {
    const dir = specCopy((d) => editJson(join(d, 'framing.json'), (f) => {
      f.reserved_flags_mask = 0xfe;
    }));
    try {
      expect(() => loadSpec(dir)).toThrow(/encoding_mask and reserved_flags_mask must split the flags byte/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
