/**
 * Reading onnxruntime's per-node profile (a Chrome-trace JSON) back onto the partitioner's
 * compute-node positions. Nodes are tagged with their file index in their name before profiling
 * (`tagNodeNames`), so attribution does not depend on the model naming its nodes, or naming them
 * uniquely; a node onnxruntime fused or rewrote keeps a tagged name where its optimiser keeps the
 * source node's name in the new one (Conv+BatchNormalization folding at level 'basic' keeps the
 * Conv), and its time goes to that node. What carries no tag (nodes the optimiser made up,
 * such as layout reorders at level 'all') is counted apart as unattributed.
 */
import type { ModelProto } from '../onnx/proto.js';
import type { GraphIndex, NodeInfo } from '../graph/graph-index.js';
import type { ModelAnalysis } from '../plan/analysis.js';

/** One event of onnxruntime's profile file (the fields read here). */
export interface TraceEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: Record<string, unknown>;
}

/** Per-run node time on compute-node positions, from one model_run of the trace. */
export interface RunNodeTimes {
  /** Microseconds per position: index p (1..n) is the p-th compute node; index 0 stays 0. */
  nodeUs: Float64Array;
  attributedUs: number;
  unattributedUs: number;
  /** onnxruntime's own model_run duration. */
  modelRunUs: number;
}

const TAG = /__cc(\d+)__/;

/** The model with every main-graph node renamed `<name>__cc<fileIndex>__` (a shallow copy; the input is untouched). */
export function tagNodeNames(model: ModelProto): ModelProto {
  const graph = model.graph!;
  return { ...model, graph: { ...graph, node: graph.node.map((node, i) => ({ ...node, name: `${node.name}__cc${i}__` })) } } as ModelProto;
}

/** The file index tagged into a (possibly fused or rewritten) node name, if any. */
export function taggedFileIndex(nodeName: string): number | undefined {
  const match = TAG.exec(nodeName);
  return match ? Number(match[1]) : undefined;
}

/**
 * Position each main-graph node's time is charged to, by file index: a compute node its own
 * position; a constant node (onnxruntime runs those unless it folded them) the first compute node
 * that reads it, directly or through other constant nodes; a dead node none.
 */
export function positionsByFileIndex(analysis: Pick<ModelAnalysis, 'index' | 'position'>): Map<number, number> {
  const { index, position } = analysis;
  const memo = new Map<NodeInfo, number | undefined>();
  const chargeOf = (info: NodeInfo, seen: Set<NodeInfo>): number | undefined => {
    if (memo.has(info)) return memo.get(info);
    const own = position.get(info);
    if (own !== undefined) return own;
    if (seen.has(info)) return undefined;
    seen.add(info);
    let first: number | undefined;
    for (const output of info.outputs) {
      for (const consumer of consumersOf(index, output)) {
        const at = chargeOf(consumer, seen);
        if (at !== undefined && (first === undefined || at < first)) first = at;
      }
    }
    memo.set(info, first);
    return first;
  };
  const result = new Map<number, number>();
  for (const info of index.nodes) {
    const at = chargeOf(info, new Set());
    if (at !== undefined) result.set(info.fileIndex, at);
  }
  return result;
}

function consumersOf(index: GraphIndex, name: string): NodeInfo[] {
  return index.consumers.get(name) ?? [];
}

/**
 * Resolves the node name in a profile event to a position: the tag first; else (onnxruntime's
 * level-'all' rewrites name a new node after its output value, e.g. 'layer1.0.relu1_nchwc' for a
 * fused Conv+BatchNormalization+Relu whose last output is 'layer1.0.relu1') the longest leading
 * '_'-separated part of the name that is a value made by a main-graph node, or a node's name.
 */
export function nodeNameResolver(index: GraphIndex, positions: ReadonlyMap<number, number>): (nodeName: string) => number | undefined {
  const byName = new Map<string, number>();
  for (const info of index.nodes) {
    const at = positions.get(info.fileIndex);
    if (at === undefined) continue;
    for (const output of info.outputs) if (!byName.has(output)) byName.set(output, at);
  }
  for (const info of index.nodes) {
    const at = positions.get(info.fileIndex);
    if (at !== undefined && info.node.name && !byName.has(info.node.name)) byName.set(info.node.name, at);
  }
  const cache = new Map<string, number | undefined>();
  return (nodeName) => {
    if (cache.has(nodeName)) return cache.get(nodeName);
    const fileIndex = taggedFileIndex(nodeName);
    let at = fileIndex === undefined ? undefined : positions.get(fileIndex);
    for (let name = nodeName; at === undefined && name !== ''; ) {
      at = byName.get(name);
      const cut = name.lastIndexOf('_');
      name = cut <= 0 ? '' : name.slice(0, cut);
    }
    cache.set(nodeName, at);
    return at;
  };
}

/**
 * Splits a trace into its model runs (Session 'model_run' events, in time order) and sums each
 * run's kernel times ('<node>_kernel_time' Node events inside the run's interval) per position.
 */
export function attributeTrace(events: readonly TraceEvent[], resolve: (nodeName: string) => number | undefined, n: number): RunNodeTimes[] {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const result: RunNodeTimes[] = runs.map((run) => ({ nodeUs: new Float64Array(n + 1), attributedUs: 0, unattributedUs: 0, modelRunUs: run.dur }));
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((a, b) => a.ts - b.ts);
  let r = 0;
  for (const event of kernels) {
    while (r < runs.length && event.ts > runs[r].ts + runs[r].dur) r++;
    if (r === runs.length) break;
    if (event.ts < runs[r].ts) continue;
    const nodeName = typeof event.args?.node_name === 'string' ? event.args.node_name : event.name.slice(0, -'_kernel_time'.length);
    const at = resolve(nodeName);
    const times = result[r];
    if (at === undefined) {
      times.unattributedUs += event.dur;
    } else {
      times.nodeUs[at] += event.dur;
      times.attributedUs += event.dur;
    }
  }
  return result;
}

/**
 * Spreads the time of fused kernels over the nodes they absorbed: a position that never had a
 * kernel of its own in any run (onnxruntime fused it into a later node, or folded it) shares the
 * time of the next position that did, in proportion to FLOPs (equal shares where FLOPs are
 * unknown or all zero). Without it, a cut inside a fusion (after a Conv, before its Relu) would
 * put the whole fused kernel on one side. Mutates the runs' nodeUs; returns how many positions
 * were absorbed.
 */
export function spreadFusedTime(runs: RunNodeTimes[], flops: readonly number[]): number {
  if (runs.length === 0) return 0;
  const n = runs[0].nodeUs.length - 1;
  const ran = new Array<boolean>(n + 1).fill(false);
  for (const run of runs) for (let p = 1; p <= n; p++) if (run.nodeUs[p] > 0) ran[p] = true;
  let absorbed = 0;
  let start = 1;
  for (let p = 1; p <= n; p++) {
    if (!ran[p]) continue;
    if (p > start) {
      // Positions start..p-1 were absorbed into p.
      absorbed += p - start;
      const weights = Array.from({ length: p - start + 1 }, (_, i) => flops[start + i - 1]);
      const usable = weights.every((w) => Number.isFinite(w) && w >= 0) && weights.some((w) => w > 0);
      const total = usable ? weights.reduce((a, b) => a + b, 0) : weights.length;
      for (const run of runs) {
        const time = run.nodeUs[p];
        for (let i = 0; i <= p - start; i++) run.nodeUs[start + i] = (time * (usable ? weights[i] : 1)) / total;
      }
    }
    start = p + 1;
  }
  return absorbed;
}

/**
 * Predicted head and tail time (ms) of the cut after position k, for one run: each non-empty half
 * pays its share of the run's overhead (see profile-overhead.ts) plus its nodes' time; time no
 * node could be named for is spread pro rata over the attributed time.
 */
export function predictHalves(run: RunNodeTimes, prefixUs: Float64Array, k: number, overheadMs: { head: number; tail: number }): { headMs: number; tailMs: number } {
  const n = prefixUs.length - 1;
  const scale = run.attributedUs > 0 ? (run.attributedUs + run.unattributedUs) / run.attributedUs : 1;
  const headNodes = (prefixUs[k] * scale) / 1000;
  const tailNodes = ((prefixUs[n] - prefixUs[k]) * scale) / 1000;
  return { headMs: k > 0 ? overheadMs.head + headNodes : 0, tailMs: k < n ? overheadMs.tail + tailNodes : 0 };
}

/** prefix[k] = node time of positions 1..k. */
export function prefixSums(nodeUs: Float64Array): Float64Array {
  const prefix = new Float64Array(nodeUs.length);
  for (let p = 1; p < nodeUs.length; p++) prefix[p] = prefix[p - 1] + nodeUs[p];
  return prefix;
}
