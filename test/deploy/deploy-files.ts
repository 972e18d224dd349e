// Readers for the files under deploy/: every YAML document of deploy/k8s with the
// kubernetes-models class that validates it, a Dockerfile's instructions, and the
// .dockerignore filter as BuildKit applies it.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const K8S_DIR = join(REPO, 'deploy', 'k8s');
export const DOCKER_DIR = join(REPO, 'deploy', 'docker');

/** A plain JSON-like object as YAML parses it (manifests are walked by path in the tests). */
export type Json = any;

export interface K8sDocument {
  /** Relative to the repository root. */
  file: string;
  /** Position of the document in its file, from 0. */
  index: number;
  object: Json;
}

/** Every file under `dir` (recursively) whose name passes `keep`, skipping the given folder names. */
export function walkFiles(dir: string, keep: (name: string) => boolean, skipDirs: readonly string[] = []): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return skipDirs.includes(entry.name) ? [] : walkFiles(path, keep, skipDirs);
      return keep(entry.name) ? [path] : [];
    })
    .sort();
}

/** Every non-empty YAML document under deploy/k8s; a syntax error in any file throws. */
export function loadK8sDocuments(): K8sDocument[] {
  const documents: K8sDocument[] = [];
  for (const path of walkFiles(K8S_DIR, (name) => /\.ya?ml$/.test(name))) {
    const file = relative(REPO, path).split(sep).join('/');
    parseAllDocuments(readFileSync(path, 'utf8')).forEach((document, index) => {
      if (document.errors.length > 0) throw new Error(`${file} document ${index}: ${document.errors[0].message}`);
      const object = document.toJS();
      if (object !== null && object !== undefined) documents.push({ file, index, object });
    });
  }
  return documents;
}

export type ModelClass = new (data: Json) => { validate(): void };

/**
 * The kubernetes-models class of an apiVersion and kind ('apps/v1' -> kubernetes-models/apps/v1,
 * 'v1' -> kubernetes-models/v1). Throws for a group, version or kind it does not ship: a
 * manifest the schemas cannot check is an error, not a pass.
 */
export async function modelClassOf(apiVersion: unknown, kind: unknown): Promise<ModelClass> {
  if (typeof apiVersion !== 'string' || !/^[a-z0-9.-]+(\/[a-z0-9]+)?$/.test(apiVersion)) throw new Error(`not an apiVersion: ${JSON.stringify(apiVersion)}`);
  if (typeof kind !== 'string' || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) throw new Error(`not a kind: ${JSON.stringify(kind)}`);
  let module: Record<string, unknown>;
  try {
    const specifier = `kubernetes-models/${apiVersion}`;
    module = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (cause) {
    throw new Error(`unknown apiVersion '${apiVersion}': kubernetes-models has no schemas for it`, { cause });
  }
  const model = module[kind];
  if (typeof model !== 'function' || typeof (model.prototype as { validate?: unknown } | undefined)?.validate !== 'function') {
    throw new Error(`unknown kind '${kind}' in '${apiVersion}'`);
  }
  return model as unknown as ModelClass;
}

/** Validates one manifest against its OpenAPI schema; throws with the JSON pointer of the first error. */
export async function validateManifest(object: Json): Promise<void> {
  const Model = await modelClassOf(object?.apiVersion, object?.kind);
  new Model(object).validate();
}

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  args: string;
  line: number;
}

/** A Dockerfile's instructions: comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const continued = trimmed.endsWith('\\');
    const part = continued ? trimmed.slice(0, -1).trim() : trimmed;
    pending = pending ? { text: `${pending.text} ${part}`, line: pending.line } : { text: part, line: i + 1 };
    if (continued) return;
    const match = /^(\S+)\s*(.*)$/.exec(pending.text)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2], line: pending.line });
    pending = undefined;
  });
  if (pending) throw new Error(`line ${pending.line}: continuation at the end of the file`);
  return instructions;
}

export function readDockerfile(name: string): Instruction[] {
  return parseDockerfile(readFileSync(join(DOCKER_DIR, name), 'utf8'));
}

/** The JSON (exec) form of an instruction's arguments, e.g. CMD ["serve", ...]. */
export function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec-form array: ${args}`);
  return parsed;
}

/** The one instruction of a kind in the last stage (after the last FROM). */
export function finalStage(instructions: Instruction[], keyword: string): Instruction {
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  const found = instructions.slice(lastFrom).filter((i) => i.keyword === keyword);
  if (found.length !== 1) throw new Error(`expected one ${keyword} in the final stage, found ${found.length}`);
  return found[0];
}

export interface CopyInstruction {
  /** --from=STAGE|IMAGE; absent: the sources are build-context paths. */
  from?: string;
  sources: string[];
  destination: string;
}

export function copyOf(instruction: Instruction): CopyInstruction {
  const words = instruction.args.split(/\s+/).filter(Boolean);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  if (paths.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return { ...(from !== undefined ? { from } : {}), sources: paths.slice(0, -1), destination: paths[paths.length - 1] };
}

/** The default of a build ARG (quotes removed). */
export function argDefault(instructions: Instruction[], name: string): string {
  const found = instructions.find((i) => i.keyword === 'ARG' && i.args.startsWith(`${name}=`));
  if (!found) throw new Error(`no ARG ${name} with a default`);
  return found.args.slice(name.length + 1).replace(/^"(.*)"$/, '$1');
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (pattern.startsWith('**/', i)) {
      source += '(?:.*/)?';
      i += 2;
    } else if (pattern.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether a context path (relative, '/'-separated) reaches the builder under a .dockerignore:
 * as moby's patternmatcher does it, a pattern matches a path or any of its parent folders, and
 * the last pattern that matches decides (`!` lines re-include).
 */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const include = line.startsWith('!');
      const pattern = (include ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { include, regexp: globToRegExp(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let sent = true;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.regexp.test(candidate))) sent = rule.include;
    }
    return sent;
  };
}
