/** `concord engine run`: the README's example scenarios run end to end over a real broker and engine processes. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tsProgram } from '../../test/programs.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('concord engine run', () => {
  it('runs the redundant, mtl, cache and monitoring scenarios with a Python engine process', () => {
    const r = spawnSync(process.execPath, tsProgram('reference/cli.ts', 'engine', 'run', '--scenario', 'redundant,mtl,cache,monitoring', '--engines', 'python', '--requests', '10').slice(1), { cwd: root, encoding: 'utf8', timeout: 150_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.split(/\n(?=\{)/).map((t) => JSON.parse(t) as Record<string, any>);
    const by = Object.fromEntries(out.map((o) => [o['scenario'], o]));
    expect(by['redundant']).toMatchObject({ agreement: true, engines: ['typescript', 'engine-python-1'] });
    // Teachers drawn from seeds 42, 7 and 1234 disagree: a non-zero disagreement above the example's threshold, signalled once.
    expect(by['mtl']['disagreement']).toBeGreaterThan(by['mtl']['threshold']);
    expect(by['mtl']['teachers'].map((t: { teacher_id: string }) => t.teacher_id)).toEqual(['typescript', 'engine-python-1', 'teacher-seed-7', 'teacher-seed-1234']);
    expect(by['mtl']['disagreement_signals']).toMatchObject([{ coordination_id: 'mtl-example', disagreement_score: by['mtl']['disagreement'] }]);
    expect(by['cache']).toMatchObject({ after_repeat: { cache_hits: 50 }, after_feedback: { cache_invalidations: 50 } });
    expect(by['monitoring']['status']).toMatchObject({ python_engine_active: true, typescript_engine_active: true, ipc_server_running: true, cpp_engines_active: 0 });
    expect(by['monitoring']['metrics']).toMatchObject({ total_reasoning: 20, python_reasoning: 10, typescript_reasoning: 10 });
  }, 160_000);

  it('refuses an unknown scenario with exit 64', () => {
    const r = spawnSync(process.execPath, tsProgram('reference/cli.ts', 'engine', 'run', '--scenario', 'nope').slice(1), { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('unknown scenario nope');
  }, 60_000);
});
