/**
 * The fleet's guard, a process of its own: `carboncp fleet` killed without warning (SIGKILL, the
 * OOM killer) cannot stop what it started, and its servers and HAProxy would run on as orphans
 * holding their ports. The fleet tells the guard each child over the IPC channel and says 'done'
 * before a clean exit; when the channel closes without it, the guard SIGTERMs the servers (they
 * drain), SIGKILLs what is left after the grace, then stops HAProxy, and exits.
 *
 * Run as `node fleet-guard.js GRACE_MS` with an IPC channel; the fleet imports only its types.
 */
import { pathToFileURL } from 'node:url';
import { isRunning } from './fleet-processes.js';

/** What the fleet sends the guard. */
export type GuardMessage = { kind: 'server' | 'haproxy' | 'exited'; pid: number } | { kind: 'done' };

const POLL_MS = 100;
const HAPROXY_GRACE_MS = 5000;

/** Signals the child's process group (each child leads its own), else the child. */
function signal(pid: number, name: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, name);
      return;
    } catch {
      // No such group (or process): try the next form.
    }
  }
}

async function stop(pids: number[], graceMs: number): Promise<void> {
  pids = pids.filter(isRunning);
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = performance.now() + graceMs;
  while (pids.some(isRunning) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  for (const pid of pids.filter(isRunning)) signal(pid, 'SIGKILL');
}

function guard(graceMs: number): void {
  const servers = new Set<number>();
  const proxies = new Set<number>();
  let done = false;
  process.on('message', (message: GuardMessage) => {
    if (message.kind === 'done') done = true;
    // An exited child's pid may be reused: never signal it.
    else if (message.kind === 'exited') (servers.delete(message.pid), proxies.delete(message.pid));
    else (message.kind === 'server' ? servers : proxies).add(message.pid);
  });
  process.once('disconnect', () => {
    if (done) return;
    const left = [...servers].filter(isRunning);
    const proxiesLeft = [...proxies].filter(isRunning);
    // Nothing left running: a clean stop whose 'done' did not arrive before the fleet exited.
    if (left.length + proxiesLeft.length === 0) return;
    process.stderr.write(`carboncp fleet guard: the fleet is gone; stopping its ${left.length} server(s), then HAProxy\n`);
    void stop(left, graceMs)
      .then(() => stop(proxiesLeft, HAPROXY_GRACE_MS))
      .then(() => process.exit(0));
  });
}

// Only as a process of its own (a test may import the types' module).
if (process.send && process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const graceMs = Number(process.argv[2]);
  guard(Number.isFinite(graceMs) && graceMs >= 0 ? graceMs : 20_000);
}
