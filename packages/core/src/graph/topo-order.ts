import { CarboncpError, ErrorCode } from '@carboncp/protocol';

/**
 * Returns node indices in topological order. When the file's own order is already topological
 * (the ONNX spec requires it, and nearly every exporter follows it) it is kept as is; otherwise
 * Kahn's algorithm picks, among the ready nodes, always the one that comes first in the file,
 * so the order is stable and as close to the file's as possible.
 */
export function topologicalOrder(
  nodeInputs: readonly (readonly string[])[],
  producerIndex: ReadonlyMap<string, number>,
  describeNode: (index: number) => string,
): number[] {
  const count = nodeInputs.length;
  let sorted = true;
  for (let i = 0; i < count && sorted; i++) {
    for (const name of nodeInputs[i]) {
      const p = producerIndex.get(name);
      if (p !== undefined && p >= i) {
        sorted = false;
        break;
      }
    }
  }
  if (sorted) return Array.from({ length: count }, (_, i) => i);

  const pending = new Array<number>(count).fill(0);
  const dependents: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < count; i++) {
    for (const name of new Set(nodeInputs[i])) {
      const p = producerIndex.get(name);
      if (p === undefined) continue;
      if (p === i) {
        throw new CarboncpError(ErrorCode.BAD_MODEL, `the graph has a cycle: ${describeNode(i)} reads its own output '${name}'`);
      }
      pending[i]++;
      dependents[p].push(i);
    }
  }
  const heap = new MinHeap();
  for (let i = 0; i < count; i++) if (pending[i] === 0) heap.push(i);
  const order: number[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(i);
    for (const d of dependents[i]) if (--pending[d] === 0) heap.push(d);
  }
  if (order.length !== count) {
    const stuck = pending.findIndex((n) => n > 0);
    throw new CarboncpError(ErrorCode.BAD_MODEL, `the graph has a cycle through ${describeNode(stuck)}: no topological order exists`);
  }
  return order;
}

class MinHeap {
  private readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
  push(value: number): void {
    const items = this.items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent] <= value) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = value;
  }
  pop(): number {
    const items = this.items;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= items.length) break;
        const right = left + 1;
        const child = right < items.length && items[right] < items[left] ? right : left;
        if (items[child] >= last) break;
        items[i] = items[child];
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}
