import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// core does not export its ModelBuilder from the package entry (yet); tests reach into its source.
import { ModelBuilder } from '../../../core/src/onnx/model-builder.js';

/**
 * A model whose tail fails inside onnxruntime for any batch size but 1: y = Reshape(Relu(x),
 * [1, 4]) with x declared [N, 4]. The crossing check (symbolic N) lets N = 2 through, so the
 * server's handling of a throwing tail can be tested with a valid request.
 */
export async function writeFragileModel(): Promise<{ dir: string; path: string; cleanup: () => Promise<void> }> {
  const bytes = new ModelBuilder({ name: 'fragile' })
    .input('x', 'FP32', ['N', 4])
    .initializer('target_shape', 'INT64', [2], [1, 4])
    .node('Relu', ['x'], ['r'])
    .valueInfo('r', 'FP32', ['N', 4])
    .node('Reshape', ['r', 'target_shape'], ['y'])
    .output('y', 'FP32', [1, 4])
    .toBytes();
  const dir = await mkdtemp(join(tmpdir(), 'carboncp-server-test-'));
  const path = join(dir, 'fragile.onnx');
  await writeFile(path, bytes);
  return { dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
