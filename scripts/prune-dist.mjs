// tsc -b never deletes what it wrote for a source file that has since been removed or renamed,
// and such a stale dist/ file would be packed and shipped (and imported by nothing, or worse, by
// an old path). Removes every dist/ file whose source under src/ no longer exists.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const OUTPUT = /\.(d\.ts\.map|d\.ts|js\.map|js)$/;
const SOURCES = ['.ts', '.mts', '.js', '.mjs'];

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export function pruneDist(pkg) {
  const dist = join(pkg, 'dist');
  if (!existsSync(dist)) return [];
  const removed = [];
  for (const file of walk(dist)) {
    if (!OUTPUT.test(file)) continue;
    const stem = join(pkg, 'src', file.slice(dist.length + 1).replace(OUTPUT, ''));
    if (!SOURCES.some((ext) => existsSync(stem + ext))) {
      rmSync(file);
      removed.push(file);
    }
  }
  return removed;
}

const packages = [...readdirSync(join(root, 'packages')).map((name) => join(root, 'packages', name)), join(root, 'models')];
const removed = packages.flatMap(pruneDist);
if (removed.length > 0) process.stderr.write(`[setup] removed ${removed.length} stale dist file(s) whose source is gone\n`);
