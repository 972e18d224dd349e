import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelBuilder } from '@carboncp/core';

/**
 * Two small models whose tails fail inside onnxruntime on requests the server's own checks let
 * through, in a temporary directory:
 * - fragile.onnx: y = Reshape(Relu(x), [1, 4]) with x and y declared [N, 4]. Any batch size but 1
 *   is a shape onnxruntime rejects (the request's fault: CARBONCP_BAD_TENSOR); as the
 *   declarations look batchable, a batch of several one-sample requests fails as a whole while
 *   each request alone runs.
 * - lookup.onnx: y = Gather(table, Abs(i)) with table FP32 [4] and i INT64 [N]. An index of 4 or
 *   more has a valid shape and type; the Gather fails on its value (CARBONCP_INTERNAL).
 */
export async function writeFragileModels(): Promise<{ dir: string; fragilePath: string; lookupPath: string; cleanup: () => Promise<void> }> {
  const fragile = new ModelBuilder({ name: 'fragile' })
    .input('x', 'FP32', ['N', 4])
    .initializer('target_shape', 'INT64', [2], [1, 4])
    .node('Relu', ['x'], ['r'])
    .valueInfo('r', 'FP32', ['N', 4])
    .node('Reshape', ['r', 'target_shape'], ['y'])
    .output('y', 'FP32', ['N', 4])
    .toBytes();
  const lookup = new ModelBuilder({ name: 'lookup' })
    .input('i', 'INT64', ['N'])
    .initializer('table', 'FP32', [4], [10, 20, 30, 40])
    .node('Abs', ['i'], ['a'])
    .valueInfo('a', 'INT64', ['N'])
    .node('Gather', ['table', 'a'], ['y'], { axis: 0 })
    .output('y', 'FP32', ['N'])
    .toBytes();
  const dir = await mkdtemp(join(tmpdir(), 'carboncp-server-test-'));
  const fragilePath = join(dir, 'fragile.onnx');
  const lookupPath = join(dir, 'lookup.onnx');
  await writeFile(fragilePath, fragile);
  await writeFile(lookupPath, lookup);
  return { dir, fragilePath, lookupPath, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
