/**
 * A deliberately broken stdio child for the stdio transport cases: wraps a conforming peer command and
 * adds one defect. Run as `tsx broken-stdio.ts <defect> CMD ARGS...`.
 *   ping-before-init  writes a PING frame before the peer's INIT (STDIO-1)
 *   log-on-stdout     writes a log line to standard output once the handshake is answered (STDIO-2)
 *   ignore-eof        never passes the end of its input on, so it runs on after it (STDIO-3)
 *   exit-zero         exits with status 0 whatever the peer's status, a refused handshake included (STDIO-3)
 *   ignore-parent-death  runs on for a minute whatever happens to its parent (STDIO-3) or to the peer:
 *                     the reference peers watch every ancestor (reference/transport/parent.ts), so the
 *                     peer itself ends when the wrapper's parent dies, and the wrapper must outlive it
 * Without that defect the wrapper, the process the cases see as the child, exits when its parent dies.
 */
import { spawn } from 'node:child_process';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { watchParent } from '../../reference/transport/parent.js';

const [defect, command, ...args] = process.argv.slice(2);
const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
if (defect === 'ping-before-init') process.stdout.write(encodeMessageFrame({ type: 'PING', header: { id: 'too-early' } }));
child.stdout.pipe(process.stdout);
child.stdin.on('error', () => undefined);
process.stdin.pipe(child.stdin, { end: defect !== 'ignore-eof' });
// At once, not on a timer: a child whose input ends within a timer's delay exited before it fired, and the
// defect did not show (one CI run under load).
if (defect === 'log-on-stdout') process.stdin.once('data', () => process.stdout.write('handshake answered, serving\n'));
if (defect !== 'ignore-parent-death') watchParent(() => { child.kill('SIGKILL'); process.exit(0); });
child.on('close', (code, signal) => {
  // Runs on for a minute at most (the case ends it sooner, by its process group).
  if (defect === 'ignore-parent-death') setTimeout(() => process.exit(code ?? 1), 60_000);
  else process.exit(defect === 'exit-zero' ? 0 : code ?? (signal ? 1 : 0));
});
