import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { extractPlan } from '../partition.js';
import { analyseModel } from '../plan/analysis.js';
import { encodeModel } from '../onnx/proto.js';
import type { Partition, Plan } from '../plan/plan-types.js';
import { distributionOf, quantile, PROFILE_SCHEMA_VERSION, type ModelProfile, type PlanProfile, type SegmentCheck, type SegmentGap } from '../plan/profile.js';
import { resolveInputShapes } from '../shapes/input-shapes.js';
import { describeHost } from './host.js';
import { seededInputs } from './seeded-inputs.js';
import { needsProbe } from './partition-with-probe.js';
import { fullRunBytes, halfBytes, measureFixedOverhead, type RunBytes } from './profile-overhead.js';
import { probeShapes } from './probe.js';
import { cudaProviderLibrary, type ExecutionProvider } from './session.js';
import { attributeTrace, nodeNameResolver, positionsByFileIndex, predictHalves, prefixSums, spreadFusedTime, tagNodeNames, type TraceEvent } from './profile-trace.js';

export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface ProfileOptions {
  inputShapes?: Record<string, number[]>;
  /** Timed full-model runs (default 20). */
  runs?: number;
  /** Untimed runs first (default 3). */
  warmup?: number;
  /** onnxruntime intra-op threads; default onnxruntime's. */
  threads?: number;
  executionProvider?: ExecutionProvider;
  /**
   * Default 'all', onnxruntime's own default and what carboncp's sessions run (createSession):
   * the profile is of the graph that will run. Its rewritten nodes are named after their output
   * value and fused kernels' time is spread over the nodes they absorbed (see profile-trace.ts);
   * 'basic' keeps the source graph closer (Conv+BatchNormalization folding only) but runs slower
   * than deployed sessions (ResNet-18: about 90 ms against 34 ms).
   */
  graphOptimizationLevel?: GraphOptimizationLevel;
  seed?: number;
  /** Real heads and tails run at this many cuts, spread evenly (default 5; 0: no check). */
  checkCuts?: number;
  /** Timed runs per checked half (default 10). */
  checkRuns?: number;
  /** Plan ids to predict (default every plan of the partition). */
  plans?: string[];
  log?: (message: string) => void;
}

const GOAL = 0.1;

function positiveInteger(value: number | undefined, name: string, fallback: number, min = 1): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `${name} must be an integer >= ${min}, got ${String(value)}`);
  return n;
}

const tensorBytes = (tensor: ort.Tensor): number => (ArrayBuffer.isView(tensor.data) ? tensor.data.byteLength : 0);

/** Position (compute nodes in the head) of a plan: 0 for 'server', n for 'device', k for 'split-k'. */
export function planPosition(plan: Plan, n: number): number {
  return plan.kind === 'server' ? 0 : plan.kind === 'device' ? n : Number(plan.id.slice('split-'.length));
}

function sessionOptions(options: ProfileOptions, provider: ExecutionProvider): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
    logSeverityLevel: 3,
  };
}

/**
 * Measures every plan's head and tail latency from full-model runs alone: onnxruntime profiles
 * each node of `runs` full runs, node times are put on the partition's compute-node positions,
 * and a plan's head is the node time before its cut plus a fixed per-run overhead (the run's wall
 * time minus its node time), its tail the rest plus the same overhead. Then, unless checkCuts is
 * 0, real heads and tails are run at a few cuts and the gap to the prediction is recorded
 * (segmentCheck). The model runs on the seeded inputs of `seed` at `inputShapes`.
 */
export async function profileModel(partition: Partition, options: ProfileOptions = {}): Promise<ModelProfile> {
  const runs = positiveInteger(options.runs, 'runs', 20);
  const warmup = positiveInteger(options.warmup, 'warmup', 3, 0);
  const checkCuts = positiveInteger(options.checkCuts, 'checkCuts', 5, 0);
  const checkRuns = positiveInteger(options.checkRuns, 'checkRuns', 10);
  if (options.threads !== undefined) positiveInteger(options.threads, 'threads', 1);
  const provider = options.executionProvider ?? 'cpu';
  if (provider !== 'cpu' && provider !== 'cuda') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown execution provider '${String(provider)}' (use 'cuda' or 'cpu')`);
  if (provider === 'cuda' && !cudaProviderLibrary()) throw new CarboncpError(ErrorCode.SESSION, 'onnxruntime-node has no CUDA provider library here (libonnxruntime_providers_cuda)');
  const log = options.log ?? (() => {});
  const { model } = partition;
  const inputShapes = resolveInputShapes(model, options.inputShapes);
  // FLOPs weigh a fused kernel's time over the nodes it absorbed; they need every shape, so probe
  // when the model does not declare them (as partitionWithProbe does).
  const shapeOptions = { inputShapes: options.inputShapes };
  const analysis = analyseModel(
    model.model,
    needsProbe(model, shapeOptions) ? { ...shapeOptions, ...(await probeShapes(model, options.inputShapes, options.seed ?? 42)) } : shapeOptions,
  );
  const n = analysis.compute.length;
  const positions = positionsByFileIndex(analysis);
  const feeds = seededInputs(model, options.inputShapes, options.seed ?? 42);

  const dir = await mkdtemp(join(tmpdir(), 'carboncp-profile-'));
  const walls: number[] = [];
  let events: TraceEvent[];
  try {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(encodeModel(tagNodeNames(model.model)), {
        ...sessionOptions(options, provider),
        enableProfiling: true,
        profileFilePrefix: join(dir, 'ort'),
      });
    } catch (cause) {
      throw new CarboncpError(ErrorCode.SESSION, `onnxruntime cannot open '${model.name}' for profiling: ${(cause as Error).message}`, { cause });
    }
    try {
      for (let i = 0; i < warmup + runs; i++) {
        const start = performance.now();
        await session.run(feeds);
        if (i >= warmup) walls.push(performance.now() - start);
      }
      session.endProfiling();
    } finally {
      await session.release();
    }
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new CarboncpError(ErrorCode.INTERNAL, `onnxruntime wrote ${files.length} profile files, expected 1`);
    events = JSON.parse(await readFile(join(dir, files[0]), 'utf8')) as TraceEvent[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const median = (values: number[]): number => quantile([...values].sort((a, b) => a - b), 0.5);
  const all = attributeTrace(events, nodeNameResolver(analysis.index, positions), n);
  if (all.length !== warmup + runs) throw new CarboncpError(ErrorCode.INTERNAL, `onnxruntime's profile holds ${all.length} model runs, expected ${warmup + runs}`);
  const timed = all.slice(warmup);
  const fusedPositions = spreadFusedTime(timed, analysis.nodeFlops);
  const overheads = timed.map((run, i) => walls[i] - (run.attributedUs + run.unattributedUs) / 1000);
  const prefixes = timed.map((run) => prefixSums(run.nodeUs));
  // Each half's overhead: the fixed part, plus the rest of the run's overhead by bytes fed.
  const fixedOverheadMs = Math.min(await measureFixedOverhead(sessionOptions(options, provider)), median(overheads));
  const firstInput = model.inputs[0]?.name;
  const runBytes: RunBytes = {
    inputs: new Map(Object.entries(feeds).map(([name, t]) => [name, tensorBytes(t)])),
    batch: firstInput !== undefined ? (inputShapes[firstInput][0] ?? 1) : 1,
  };
  const fullBytes = fullRunBytes(runBytes);
  const share = (bytes: number, overhead: number): number =>
    Number.isFinite(bytes) && fullBytes > 0 ? fixedOverheadMs + (Math.max(0, overhead - fixedOverheadMs) * bytes) / fullBytes : overhead;
  log(`profiled ${runs} runs of ${model.name}: median ${distributionOf(walls).medianMs.toFixed(2)} ms, ${n} compute nodes`);

  const wanted = options.plans ? new Set(options.plans) : undefined;
  const plans: PlanProfile[] = partition.plans
    .filter((plan) => !wanted || wanted.has(plan.id))
    .map((plan) => {
      const k = planPosition(plan, n);
      const bytes = halfBytes(plan, runBytes);
      const halves = timed.map((run, i) => predictHalves(run, prefixes[i], k, { head: share(bytes.head, overheads[i]), tail: share(bytes.tail, overheads[i]) }));
      return {
        id: plan.id,
        digest: plan.digest,
        bytesPerSample: plan.bytesPerSample,
        k,
        head: distributionOf(k > 0 ? halves.map((h) => h.headMs) : []),
        tail: distributionOf(k < n ? halves.map((h) => h.tailMs) : []),
      };
    });

  const profile: ModelProfile = {
    schemaVersion: PROFILE_SCHEMA_VERSION,
    modelDigest: model.digest,
    modelName: model.name,
    measuredAt: new Date().toISOString(),
    device: {
      ...describeHost(),
      onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
      executionProvider: provider,
      threads: options.threads ?? null,
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    },
    inputShapes,
    method: {
      kind: 'node-profiling',
      runs,
      warmup,
      fullModel: distributionOf(walls),
      attributedMs: median(timed.map((r) => r.attributedUs / 1000)),
      unattributedMs: median(timed.map((r) => r.unattributedUs / 1000)),
      overheadMs: median(overheads),
      fixedOverheadMs,
      fusedPositions,
      ...(provider === 'cuda'
        ? { notes: ['cuda: onnxruntime times CUDA kernels on the host (launch and any sync), not on the GPU; not yet checked on a GPU machine: read segmentCheck before trusting the split of time'] }
        : {}),
    },
    plans,
  };
  if (checkCuts > 0) profile.segmentCheck = await checkSegments(partition, profile, feeds, { ...options, checkCuts, checkRuns }, provider);
  return profile;
}

/** Split plans spread evenly over the partition (first and last included), at most `count`. */
export function spreadCuts(plans: readonly PlanProfile[], count: number): PlanProfile[] {
  const splits = plans.filter((p) => p.id.startsWith('split-'));
  if (splits.length <= count) return splits;
  const chosen = new Set<number>();
  for (let i = 0; i < count; i++) chosen.add(Math.round((i * (splits.length - 1)) / (count - 1 || 1)));
  return [...chosen].sort((a, b) => a - b).map((i) => splits[i]);
}

/**
 * Runs the real halves of a few cuts (same session options, no profiling) and compares medians.
 * Paired: each round runs the full model, the head and the tail back to back, so a machine that
 * got faster or slower since the profile (a shared machine does) moves all three; the prediction
 * is scaled by that cut's drift (full-model median now / the profile's) before the gap is taken,
 * and the unscaled gap is kept as rawGap.
 */
async function checkSegments(
  partition: Partition,
  profile: ModelProfile,
  feeds: Record<string, ort.Tensor>,
  options: ProfileOptions & { checkCuts: number; checkRuns: number },
  provider: ExecutionProvider,
): Promise<SegmentCheck> {
  const gaps: SegmentGap[] = [];
  const warmup = Math.min(options.warmup ?? 3, 3);
  const full = await ort.InferenceSession.create(partition.model.bytes, sessionOptions(options, provider));
  try {
    for (const predicted of spreadCuts(profile.plans, options.checkCuts)) {
      const { head, tail, plan } = extractPlan(partition, predicted.id);
      const headSession = await ort.InferenceSession.create(head!, sessionOptions(options, provider));
      const tailSession = await ort.InferenceSession.create(tail!, sessionOptions(options, provider));
      try {
        const headFeeds = Object.fromEntries(headSession.inputNames.map((name) => [name, feeds[name]]));
        const headOut = (await headSession.run(headFeeds)) as Record<string, ort.Tensor>;
        const tailFeeds: Record<string, ort.Tensor> = {};
        for (const c of plan.crossing) tailFeeds[c.name] = c.source === 'input' ? feeds[c.name] : headOut[c.name];
        const times = { full: [] as number[], head: [] as number[], tail: [] as number[] };
        const timed = async (session: ort.InferenceSession, input: Record<string, ort.Tensor>, into: number[] | undefined): Promise<void> => {
          const start = performance.now();
          await session.run(input);
          into?.push(performance.now() - start);
        };
        for (let i = 0; i < warmup + options.checkRuns; i++) {
          const keep = i >= warmup;
          await timed(full, feeds, keep ? times.full : undefined);
          await timed(headSession, headFeeds, keep ? times.head : undefined);
          await timed(tailSession, tailFeeds, keep ? times.tail : undefined);
        }
        const fullModelMs = distributionOf(times.full).medianMs;
        const drift = fullModelMs / profile.method.fullModel.medianMs;
        for (const half of ['head', 'tail'] as const) {
          const measuredMs = distributionOf(times[half]).medianMs;
          const predictedMs = predicted[half].medianMs;
          gaps.push({ planId: predicted.id, half, predictedMs, measuredMs, fullModelMs, gap: (predictedMs * drift - measuredMs) / measuredMs, rawGap: (predictedMs - measuredMs) / measuredMs });
        }
        const last = gaps.slice(-2);
        options.log?.(
          `checked ${predicted.id}: head ${last[0].measuredMs.toFixed(2)} ms (predicted ${last[0].predictedMs.toFixed(2)}), tail ${last[1].measuredMs.toFixed(2)} ms (predicted ${last[1].predictedMs.toFixed(2)}), full model now ${fullModelMs.toFixed(2)} ms`,
        );
      } finally {
        await headSession.release();
        await tailSession.release();
      }
    }
  } finally {
    await full.release();
  }
  const abs = gaps.map((g) => Math.abs(g.gap)).sort((a, b) => a - b);
  const raw = gaps.map((g) => Math.abs(g.rawGap)).sort((a, b) => a - b);
  const medianAbsGap = abs.length ? quantile(abs, 0.5) : 0;
  return {
    runs: options.checkRuns,
    gaps,
    medianAbsGap,
    medianAbsRawGap: raw.length ? quantile(raw, 0.5) : 0,
    maxAbsGap: abs.length ? abs[abs.length - 1] : 0,
    goal: GOAL,
    met: medianAbsGap <= GOAL,
  };
}
