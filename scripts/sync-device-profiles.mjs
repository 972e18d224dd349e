#!/usr/bin/env node
/**
 * Copies the device profiles (devices/*.json, schema included) into the copy that
 * @carboncp/carbon ships (packages/carbon/profiles/), and removes files there that devices/ no
 * longer has. `--check` changes nothing and exits 1 when the two differ (the carbon test
 * device-profiles.test.ts fails in that case too).
 * Usage: node scripts/sync-device-profiles.mjs [--check]
 */
import { readdir, readFile, writeFile, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const from = join(root, 'devices');
const to = join(root, 'packages', 'carbon', 'profiles');
const check = process.argv.includes('--check');

const json = async (dir) => (await readdir(dir).catch(() => [])).filter((n) => n.endsWith('.json')).sort();
await mkdir(to, { recursive: true });
const wanted = await json(from);
const present = await json(to);
const changes = [];
for (const name of wanted) {
  const text = await readFile(join(from, name), 'utf8');
  const old = present.includes(name) ? await readFile(join(to, name), 'utf8') : null;
  if (old !== text) {
    changes.push(`${old === null ? 'add' : 'update'} ${name}`);
    if (!check) await writeFile(join(to, name), text);
  }
}
for (const name of present.filter((n) => !wanted.includes(n))) {
  changes.push(`remove ${name}`);
  if (!check) await rm(join(to, name));
}
process.stdout.write(changes.length ? `${changes.join('\n')}\n` : 'packages/carbon/profiles/ equals devices/\n');
if (check && changes.length) process.exit(1);
