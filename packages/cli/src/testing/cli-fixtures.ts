// Test support of the cli package (excluded from the build): captured output, a per-file temp
// directory and the real PP-OCR classifier.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { ocrModelPath } from '@carboncp/core/node';
import type { Io } from '../command.js';

/** PP-OCR's direction classifier: input x [N, 3, ?, ?], a few hundred cuts. */
export const CLS = ocrModelPath('ch_ppocr_mobile_v2.0_cls_infer.onnx');

/** An Io that keeps every line written to stdout and stderr. */
export function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

/** A temp directory made before the test file's tests and removed after them; `path` is set from beforeAll on. */
export function useTempDir(prefix: string): { readonly path: string } {
  let path: string | undefined;
  beforeAll(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (path) await rm(path, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (path === undefined) throw new Error(`the temp dir '${prefix}*' exists only while the file's tests run`);
      return path;
    },
  };
}
