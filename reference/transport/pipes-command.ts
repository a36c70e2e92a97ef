/**
 * `concord pipes setup DIR` and `concord pipes cleanup DIR`: a FIFO pair directory (section 10.4) for
 * peers started by hand, e.g. `perl concord_testee.pl --fifo DIR`. Both are idempotent.
 *
 * setup:   DIR absent -> created 0700 with both FIFOs 0600. DIR already a correct pair -> left as is.
 *          DIR present but not a correct pair (a regular file, a missing or non-FIFO entry, wrong
 *          owner or modes) -> nothing is changed, exit 73.
 * cleanup: removes the two FIFOs and DIR; DIR absent -> nothing to do. A non-FIFO in a FIFO's place,
 *          or any other file in DIR, is left (exit 73 if DIR then remains).
 */
import { lstatSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { BROKER_TO_CLIENT, CLIENT_TO_BROKER, FifoError, checkPrivate, createPairDir, removePairDir } from './fifo-fs.js';

export const PIPES_HELP = `  pipes setup DIR              create a FIFO pair directory: DIR 0700 with client-to-broker and
                               broker-to-client, FIFOs 0600 (idempotent)
  pipes cleanup DIR            remove that pair: the two FIFOs, then DIR (idempotent)
                               exit codes: 0 done or nothing to do, 64 usage, 73 something else is
                               in the way and was left untouched, 71 mkfifo or the file system failed
`;

const EX_OK = 0;
const EX_USAGE = 64;
const EX_OSERR = 71;
const EX_CANTCREAT = 73;

/** Why DIR is not a correct pair, or undefined when it is one. */
function pairProblem(dir: string): string | undefined {
  const st = lstatSync(dir);
  if (!st.isDirectory()) return `${dir} exists and is not a directory`;
  try {
    checkPrivate(dir, st);
    for (const name of [CLIENT_TO_BROKER, BROKER_TO_CLIENT]) {
      const path = join(dir, name);
      if (!existsSync(path)) return `${path} is missing`;
      const f = lstatSync(path);
      if (!f.isFIFO()) return `${path} is not a FIFO`;
      checkPrivate(path, f);
    }
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

export async function runPipesCommand(args: string[], out: (t: string) => void = (t) => void process.stdout.write(t), err: (t: string) => void = (t) => void process.stderr.write(t)): Promise<number> {
  const [action, dir, ...extra] = args;
  if ((action !== 'setup' && action !== 'cleanup') || !dir || extra.length > 0) {
    err(`concord pipes: usage: concord pipes setup|cleanup DIR\n`);
    return EX_USAGE;
  }
  if (action === 'setup') {
    if (existsSync(dir) || lstatSafe(dir)) {
      const problem = pairProblem(dir);
      if (problem) {
        err(`concord pipes setup: ${problem}; nothing changed\n`);
        return EX_CANTCREAT;
      }
      out(`${dir}: already set up\n`);
      return EX_OK;
    }
    try {
      await createPairDir(dir);
    } catch (e) {
      err(`concord pipes setup: ${(e as Error).message}\n`);
      return e instanceof FifoError && e.code === 'IN_THE_WAY' ? EX_CANTCREAT : EX_OSERR;
    }
    out(`${dir}: created (0700; ${CLIENT_TO_BROKER}, ${BROKER_TO_CLIENT} 0600)\n`);
    return EX_OK;
  }
  if (!lstatSafe(dir)) {
    out(`${dir}: nothing to clean up\n`);
    return EX_OK;
  }
  if (!lstatSync(dir).isDirectory()) {
    err(`concord pipes cleanup: ${dir} is not a directory; left untouched\n`);
    return EX_CANTCREAT;
  }
  await removePairDir(dir);
  if (lstatSafe(dir)) {
    err(`concord pipes cleanup: ${dir} holds files other than its two FIFOs; they were left untouched\n`);
    return EX_CANTCREAT;
  }
  out(`${dir}: removed\n`);
  return EX_OK;
}

function lstatSafe(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

