/**
 * `concord engine serve`: one engine process (on stdio, or attached to a broker);
 * `concord engine run`: a broker, N engine processes and the unified engine, running the seven
 * example scenarios.
 */
import { parseArgs } from 'node:util';
import { ReferenceEngine } from './engine.js';
import { serveStdio } from './stdio.js';
import { watchParent } from '../transport/parent.js';
import { serveBroker } from './serve.js';
import { startCluster } from './cluster.js';
import { engineAvailable } from './processes.js';
import { runScenario, SCENARIOS, type Scenario } from './scenarios.js';
import type { EngineLanguage } from './unified/backend.js';
import { serveUnified, UNIFIED_ENGINE_ID, type AttachedEngine } from './unified/service.js';
import { STRATEGIES } from './unified/strategy.js';
import { ENGINE_CONFIG_KEYS, engineConfigOf, languageEnabled } from './unified/config.js';
import { withConfigFile } from '../config-file.js';

export const ENGINE_HELP = `  engine serve --stdio | --port N [--host H] [--id NAME] [--token T] [--seed N]
                               one reference engine: frames on stdin/stdout (engine suite), or attached
                               to a broker under client id NAME (reconnects when the broker restarts)
  engine serve --unified --port N [--host H] [--id NAME] [--token T] [--engines ID:LANG,...] [--local]
               [--strategy S] [--cache-size N] [--timeout-ms N] [--disagreement-threshold X] [--observers ID,...]
               [--config FILE]
                               the unified engine as the broker service NAME (default
                               ${UNIFIED_ENGINE_ID}; its client id is NAME-PID) over the engines attached as ID (language LANG:
                               typescript, python or cpp) and, with --local, one in process; strategies:
                               ${STRATEGIES.join(', ')}; an MTL round whose disagreement exceeds X
                               sends DISAGREEMENT_SIGNAL to each observer; --config FILE: the same
                               settings as a JSON object (keys without --, plus python-enabled,
                               cpp-enabled, typescript-enabled: false leaves that language's engines
                               out); a file holding a token must not be readable by group or others
  engine run [--scenario NAME|all] [--engines typescript,python,cpp] [--requests N]
                               a broker on loopback, the in-process engine and one process per listed
                               language, the unified engine over them; scenarios: ${SCENARIOS.join(', ')}
`;

/** `--engines ID:LANG,...` as attached engines. */
function attachedEngines(text: string): AttachedEngine[] {
  return text.split(',').filter(Boolean).map((item) => {
    const at = item.lastIndexOf(':');
    const language = item.slice(at + 1);
    if (at <= 0 || !['typescript', 'python', 'cpp'].includes(language)) throw new RangeError(`--engines: ${item} is not ID:LANG with LANG typescript, python or cpp`);
    return { id: item.slice(0, at), language: language as EngineLanguage };
  });
}

async function serveUnifiedCommand(flags: Record<string, string | boolean | undefined>): Promise<number> {
  const values = withConfigFile(flags, ENGINE_CONFIG_KEYS);
  if (values['port'] === undefined) throw new RangeError('--unified needs --port');
  const config = engineConfigOf(values);
  const engines = attachedEngines((values['engines'] as string | undefined) ?? '').filter((e) => languageEnabled(config, e.language));
  const local = values['local'] === true && config.typescript_enabled;
  if (engines.length === 0 && !local) throw new RangeError('--unified needs --engines ID:LANG,... or --local (of an enabled language)');
  const observers = ((values['observers'] as string | undefined) ?? '').split(',').filter(Boolean);
  const service = await serveUnified({
    host: (values['host'] as string | undefined) ?? '127.0.0.1', port: Number(values['port']), engines, local, observers,
    ...(values['id'] !== undefined ? { clientId: values['id'] as string } : {}), ...(values['token'] !== undefined ? { token: values['token'] as string } : {}),
    unified: {
      strategy: config.strategy, cacheSize: config.cache_size, timeoutMs: config.timeout_ms,
      ...(config.disagreement_threshold !== undefined ? { disagreementThreshold: config.disagreement_threshold } : {}),
    },
  });
  process.stderr.write(`${JSON.stringify({ msg: 'unified engine attached', id: service.id, engines: engines.map((e) => e.id), local, config })}\n`);
  const stop = (): void => void service.close();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await service.client.closed;
  return 0;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stdio: { type: 'boolean' }, host: { type: 'string' }, port: { type: 'string' }, id: { type: 'string' }, token: { type: 'string' }, seed: { type: 'string', default: '42' },
      unified: { type: 'boolean' }, engines: { type: 'string' }, local: { type: 'boolean' }, strategy: { type: 'string' }, 'cache-size': { type: 'string' }, 'timeout-ms': { type: 'string' },
      'disagreement-threshold': { type: 'string' }, observers: { type: 'string' }, config: { type: 'string' },
      'python-enabled': { type: 'boolean' }, 'cpp-enabled': { type: 'boolean' }, 'typescript-enabled': { type: 'boolean' },
    },
  });
  if (values.unified) return serveUnifiedCommand(values);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`--seed ${values.seed} is not a uint32`);
  const id = values.id ?? `engine-typescript-${process.pid}`;
  const engine = new ReferenceEngine(values.stdio ? 'typescript' : id, seed);
  if (values.stdio) {
    // STDIO-3: exit when the parent dies, even while standard input stays open.
    watchParent(() => process.exit(0));
    await serveStdio(engine, process.stdin, process.stdout);
    return 0;
  }
  if (values.port === undefined) throw new RangeError('--stdio or --port is required');
  const client = await serveBroker(engine, { host: values.host ?? '127.0.0.1', port: Number(values.port), clientId: id, ...(values.token !== undefined ? { token: values.token } : {}) });
  const stop = (): void => void client.close({ reason: 'engine stopping', drainMs: 1000 });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await client.closed;
  return 0;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { scenario: { type: 'string', default: 'all' }, engines: { type: 'string', default: 'python,cpp' }, requests: { type: 'string', default: '100' } } });
  const scenarios = values.scenario === 'all' ? [...SCENARIOS] : values.scenario.split(',');
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new RangeError(`unknown scenario ${s} (known: ${SCENARIOS.join(', ')}, all)`);
  const requests = Number(values.requests);
  if (!Number.isInteger(requests) || requests < 1 || requests > 100_000) throw new RangeError('--requests must be an integer 1 to 100000');
  const wanted = values.engines.split(',').filter(Boolean) as EngineLanguage[];
  const remote = wanted.filter((l) => l !== 'typescript' && engineAvailable(l));
  for (const l of wanted) if (!engineAvailable(l)) process.stderr.write(`concord engine: the ${l} engine is not built; skipping it (cmake --build cpp-client/build)\n`);
  const cluster = await startCluster({ remote, local: true });
  try {
    for (const s of scenarios) {
      const summary = await runScenario(s as Scenario, cluster.backends, requests, () => cluster.client.state === 'open');
      process.stdout.write(`${JSON.stringify({ scenario: s, ...summary }, null, 2)}\n`);
    }
  } finally {
    await cluster.close();
  }
  return 0;
}

export async function runEngineCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'serve') return await serve(rest);
    if (sub === 'run') return await run(rest);
    process.stderr.write(`concord engine: serve or run is required\n${ENGINE_HELP}`);
    return 64;
  } catch (e) {
    process.stderr.write(`concord engine: ${(e as Error).message}\n`);
    return e instanceof RangeError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? 64 : 1;
  }
}
