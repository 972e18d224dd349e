import type { Runtime, RuntimeTensor } from './types.js';

/**
 * `tensors` with every one the runtime keeps off the CPU brought to it (Runtime.toCpu), so that
 * the synchronous describe() can read them; the same object when the runtime has no toCpu.
 * Values that are not tensors (null, a typed array) pass through for the checks to name.
 */
export async function onCpu<T extends RuntimeTensor>(runtime: Runtime<T>, tensors: Record<string, T>): Promise<Record<string, T>> {
  const toCpu = runtime.toCpu?.bind(runtime);
  if (!toCpu || tensors === null || typeof tensors !== 'object') return tensors;
  const entries = await Promise.all(
    Object.entries(tensors).map(async ([name, tensor]) => [name, isTensorLike(tensor) ? await toCpu(tensor) : tensor] as const),
  );
  return Object.fromEntries(entries) as Record<string, T>;
}

function isTensorLike(value: unknown): value is RuntimeTensor {
  return typeof value === 'object' && value !== null && 'dims' in value && 'type' in value;
}
