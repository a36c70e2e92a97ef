/** Configuration files (`--config FILE`): flags as JSON keys, the command line winning, and the token-file rule for a file holding a token. */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readConfigFile, withConfigFile } from '../config-file.js';
import { BROKER_CONFIG_KEYS } from '../broker/command.js';
import { TokenSourceError } from '../token-source.js';
import { ENGINE_CONFIG_KEYS, engineConfigOf, languageEnabled } from '../engine/unified/config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'concord-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: unknown, mode: number): string {
  const path = join(dir, `c${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  chmodSync(path, mode);
  return path;
}

describe('readConfigFile', () => {
  it('reads every broker option as its flag would give it; numbers become strings', () => {
    const values = readConfigFile(file({ host: '127.0.0.1', port: 0, 'max-in-flight': 64, 'log-level': 'warn' }, 0o644), BROKER_CONFIG_KEYS);
    expect(values).toEqual({ host: '127.0.0.1', port: '0', 'max-in-flight': '64', 'log-level': 'warn' });
  });
  it('refuses a token in a file group or others may read, and accepts it owner-only', () => {
    expect(() => readConfigFile(file({ token: 's3cret' }, 0o640), BROKER_CONFIG_KEYS)).toThrow(/holds a token and is readable by group or others \(mode 0640\)/);
    expect(() => readConfigFile(file({ token: 's3cret' }, 0o604), BROKER_CONFIG_KEYS)).toThrow(TokenSourceError);
    expect(readConfigFile(file({ token: 's3cret' }, 0o600), BROKER_CONFIG_KEYS)).toEqual({ token: 's3cret' });
  });
  it('names an unknown setting, a value of the wrong kind and a file that is not a JSON object', () => {
    expect(() => readConfigFile(file({ prot: 1 }, 0o600), BROKER_CONFIG_KEYS)).toThrow(/unknown setting prot/);
    expect(() => readConfigFile(file({ port: { n: 1 } }, 0o600), BROKER_CONFIG_KEYS)).toThrow(/port must be a string or a number/);
    expect(() => readConfigFile(file({ local: 'yes' }, 0o600), ENGINE_CONFIG_KEYS)).toThrow(/local must be true or false/);
    expect(() => readConfigFile(file('[1]', 0o600), BROKER_CONFIG_KEYS)).toThrow(/JSON object/);
    expect(() => readConfigFile(file('{', 0o600), BROKER_CONFIG_KEYS)).toThrow(/not JSON/);
  });
  it('lets flags given on the command line win over the file', () => {
    const path = file({ port: 1234, host: '127.0.0.1' }, 0o600);
    expect(withConfigFile({ config: path, port: '0', host: undefined }, BROKER_CONFIG_KEYS)).toEqual({ config: path, port: '0', host: '127.0.0.1' });
  });
});

describe('EngineConfig', () => {
  it('takes the seeds\' switches from a file: languages enabled, strategy, cache size, timeout, threshold', () => {
    const values = readConfigFile(file({ 'python-enabled': false, strategy: 'cpp_first', 'cache-size': 10, 'timeout-ms': 500, 'disagreement-threshold': 0.2, engines: ['a:python', 'b:cpp'] }, 0o600), ENGINE_CONFIG_KEYS);
    const c = engineConfigOf(values);
    expect(c).toEqual({ python_enabled: false, cpp_enabled: true, typescript_enabled: true, strategy: 'cpp_first', cache_size: 10, timeout_ms: 500, disagreement_threshold: 0.2 });
    expect([languageEnabled(c, 'python'), languageEnabled(c, 'cpp')]).toEqual([false, true]);
    expect(values['engines']).toBe('a:python,b:cpp');
  });
  it('defaults to the spec limits and refuses values outside their range', () => {
    expect(engineConfigOf({})).toMatchObject({ strategy: 'round_robin', cache_size: 1000, timeout_ms: 30000 });
    expect(() => engineConfigOf({ strategy: 'fastest' })).toThrow(/strategy fastest/);
    expect(() => engineConfigOf({ 'cache-size': '-1' })).toThrow(/cache-size -1/);
    expect(() => engineConfigOf({ 'disagreement-threshold': '2' })).toThrow(/disagreement-threshold 2/);
  });
});

describe('concord broker --config', () => {
  it('exits 78 naming the file when it holds a token and others may read it', () => {
    const path = file({ port: 0, token: 's3cret' }, 0o644);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'reference/cli.ts', 'broker', '--config', path], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(`--config ${path}: holds a token and is readable by group or others`);
    expect(r.stderr).not.toContain('s3cret');
  }, 60_000);
});
