/**
 * A fake `nvidia-smi` for tests: a POSIX shell script named nvidia-smi in a temporary directory
 * that records every call (its arguments, one line each) and keeps each GPU's power limit in a
 * file, so that a query after `-pl` answers the new limit. `deny()` makes `-pl` fail as a
 * non-root user sees it (exit 4, "Insufficient Permissions"). `onPath()` puts the directory first
 * on this process's PATH (what the server's runner resolves 'nvidia-smi' through).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface FakeGpu {
  index: number;
  limitW: number;
  defaultW: number;
  minW: number;
  maxW: number;
}

const SCRIPT = `#!/bin/sh
dir="$(dirname "$0")"
echo "$*" >> "$dir/calls.log"
case "$1" in
  --query-gpu=index,power.limit,power.default_limit,power.min_limit,power.max_limit)
    for i in $(cat "$dir/gpus"); do echo "$i, $(cat "$dir/limit.$i"), $(cat "$dir/range.$i")"; done ;;
  -i)
    if [ -e "$dir/deny" ]; then echo "Insufficient Permissions for setting power management limit of GPU $2." >&2; echo "Terminating early due to previous errors."; exit 4; fi
    [ "$3" = "-pl" ] || exit 2
    old=$(cat "$dir/limit.$2"); echo "$4.00" > "$dir/limit.$2"
    echo "Power limit for GPU 00000000:00:0$2.0 was set to $4.00 W from $old W."; echo "All done." ;;
  *) echo "fake nvidia-smi: unexpected arguments: $*" >&2; exit 9 ;;
esac
`;

export class FakeNvidiaSmi {
  readonly dir = mkdtempSync(join(tmpdir(), 'carboncp-fake-nvsmi-'));
  private savedPath: string | undefined;

  constructor(gpus: FakeGpu[]) {
    writeFileSync(join(this.dir, 'nvidia-smi'), SCRIPT);
    chmodSync(join(this.dir, 'nvidia-smi'), 0o755);
    writeFileSync(join(this.dir, 'gpus'), gpus.map((g) => g.index).join(' '));
    for (const g of gpus) {
      writeFileSync(join(this.dir, `limit.${g.index}`), g.limitW.toFixed(2));
      writeFileSync(join(this.dir, `range.${g.index}`), `${g.defaultW.toFixed(2)}, ${g.minW.toFixed(2)}, ${g.maxW.toFixed(2)}`);
    }
  }

  /** Every call so far, as its argument string. */
  calls(): string[] {
    const log = join(this.dir, 'calls.log');
    return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** The `-pl` calls so far, as [gpu, watts]. */
  sets(): [number, number][] {
    return this.calls()
      .map((c) => /^-i (\d+) -pl (\d+)$/.exec(c))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [Number(m[1]), Number(m[2])]);
  }

  limit(index: number): number {
    return Number(readFileSync(join(this.dir, `limit.${index}`), 'utf8'));
  }

  deny(): void {
    writeFileSync(join(this.dir, 'deny'), '');
  }

  onPath(): void {
    this.savedPath ??= process.env.PATH;
    process.env.PATH = `${this.dir}${delimiter}${this.savedPath ?? ''}`;
  }

  cleanup(): void {
    if (this.savedPath !== undefined) process.env.PATH = this.savedPath;
    this.savedPath = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
