import { CarboncpError, ErrorCode, bytesPerElement, isCompression, type Compression, type DataType } from '@carboncp/protocol';
import type { LatencyDistribution, ModelProfile, Plan } from '@carboncp/core';

/**
 * One way to run a request, as the decision sees it: a plan (where the model is cut) and how
 * its crossing tensors are compressed; room for a model variant and a server site. Platform-
 * neutral plain data (JSON-safe), so the device, the simulator and a saved state all hold the
 * same record. The decision never assumes "a candidate is a cut".
 */
export interface DecisionCandidate {
  /** Unique among the decision's candidates; candidateId() builds the usual one. */
  id: string;
  planId: string;
  kind: 'device' | 'server' | 'split';
  compression: Compression;
  /** Bytes sent per request (the crossing tensors after compression; 0 for 'device'). */
  bytesUp: number;
  /** Bytes received per request (the tail's outputs; 0 for 'device'). */
  bytesDown: number;
  /** The head's latency on the device, as profiled (the whole model for 'device'; zeros for 'server'). */
  head: LatencyDistribution;
  /** The tail's latency on the server, as profiled (zeros for 'device'). */
  tail: LatencyDistribution;
  /** Where `tail` came from: a profile of the server, or the device's profile standing in for it. */
  tailSource: 'server-profile' | 'device-profile';
  /**
   * Largest output error the compression causes, in the units the caller's error limit uses
   * (e.g. max |difference| relative to max |output|): 0 for 'none'; absent when unknown, and an
   * unknown error never meets a limit.
   */
  maxAbsError?: number;
  /** A model variant (a smaller or quantised model), when the decision chooses among several. */
  variant?: string;
  /**
   * The variant's declared quality (its family's qualityMetric, e.g. published ImageNet top-1 %):
   * metadata from a publication, never measured here. Absent when unknown, and an unknown quality
   * never meets a floor (minQuality).
   */
  quality?: number;
  /** The server site the tail runs at, when there are several. */
  site?: string;
  /** Extra RTT to this site over the context's RTT (ms): its distance; a measured DecisionContext.sites RTT overrides it. */
  siteRttMs?: number;
}

/** 'split-3/int8', 'device/none', 'server/fp16@eu-west' with a variant: 'split-3/int8/small'. */
export function candidateId(parts: { planId: string; compression: Compression; variant?: string; site?: string }): string {
  const variant = parts.variant ? `/${parts.variant}` : '';
  const site = parts.site ? `@${parts.site}` : '';
  return `${parts.planId}/${parts.compression}${variant}${site}`;
}

/** What compressTensor turns an FP32 crossing tensor into (other datatypes cross unchanged). */
const COMPRESSED_FP32: Record<Compression, DataType> = { none: 'FP32', fp16: 'FP16', int8: 'UINT8' };

/**
 * Bytes per sample a plan sends under a compression: FP32 crossing tensors shrink to FP16 or
 * UINT8 (compressTensor), others are sent as they are. NaN when a crossing size is unknown.
 */
export function compressedBytesPerSample(plan: Pick<Plan, 'crossing'>, compression: Compression): number {
  const ratio = bytesPerElement(COMPRESSED_FP32[compression]) / bytesPerElement('FP32');
  let bytes = 0;
  for (const tensor of plan.crossing) bytes += tensor.dtype === 'FP32' ? tensor.bytesPerSample * ratio : tensor.bytesPerSample;
  return bytes;
}

export interface CandidatesFromProfileOptions {
  /** Compressions to offer for plans that send something; default ['none']. 'device' always gets 'none' only. */
  compressions?: readonly Compression[];
  /**
   * The model's plans (core's Plan): with them, bytes follow each crossing tensor's dtype. Without
   * them the profile's bytesPerSample is taken as all FP32 (the profile records no dtypes).
   */
  plans?: readonly Pick<Plan, 'id' | 'crossing'>[];
  /** A profile of the same model measured on the server: the tails' latencies; default the device profile's tails. */
  serverProfile?: ModelProfile;
  /** Samples per request (the batch); bytes scale with it. Default 1. */
  samples?: number;
  /** Bytes per sample of the model's outputs (what a remote tail sends back); default 0. */
  outputBytesPerSample?: number;
  /** Bytes per sample for plans whose size the profile does not know (NaN), by plan id. */
  bytesPerSample?: Readonly<Record<string, number>>;
  /** Output error of a lossy compression, per plan and compression; undefined: unknown. 'none' is always 0. */
  outputError?: (planId: string, compression: Compression) => number | undefined;
  /** Only these plan ids (default: every plan of the profile). */
  planIds?: readonly string[];
}

const ZERO: LatencyDistribution = { medianMs: 0, p10Ms: 0, p90Ms: 0, meanMs: 0, sdMs: 0, n: 0 };

function kindOf(planId: string): DecisionCandidate['kind'] {
  return planId === 'device' ? 'device' : planId === 'server' ? 'server' : 'split';
}

/**
 * The candidates of a profiled model: every plan (or `planIds`) with every compression, seeded
 * with the profile's head latencies and the server profile's (or, standing in, the device
 * profile's) tail latencies. CARBONCP_INVALID_ARGUMENT for an unknown compression, a plan the
 * profile lacks, or a plan whose bytes are unknown and not given in `bytesPerSample`.
 */
export function candidatesFromProfile(profile: ModelProfile, options: CandidatesFromProfileOptions = {}): DecisionCandidate[] {
  const compressions = options.compressions ?? ['none'];
  for (const c of compressions) {
    if (!isCompression(c)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `unknown compression ${JSON.stringify(c)}`);
  }
  const samples = options.samples ?? 1;
  const outputBytes = options.outputBytesPerSample ?? 0;
  if (!(Number.isInteger(samples) && samples >= 1)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `samples must be an integer >= 1, got ${samples}`);
  if (!(outputBytes >= 0)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `outputBytesPerSample must be >= 0, got ${outputBytes}`);
  const plansById = new Map(options.plans?.map((p) => [p.id, p]));
  const serverTails = new Map(options.serverProfile?.plans.map((p) => [p.id, p.tail]));
  const wanted = options.planIds ?? profile.plans.map((p) => p.id);
  const out: DecisionCandidate[] = [];
  for (const planId of wanted) {
    const planProfile = profile.plans.find((p) => p.id === planId);
    if (!planProfile) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `plan '${planId}' is not in the profile of '${profile.modelName}'`);
    const kind = kindOf(planId);
    const serverTail = serverTails.get(planId);
    const plan = plansById.get(planId);
    for (const compression of kind === 'device' ? (['none'] as const) : compressions) {
      let perSample = plan ? compressedBytesPerSample(plan, compression) : planProfile.bytesPerSample * (bytesPerElement(COMPRESSED_FP32[compression]) / bytesPerElement('FP32'));
      if (Number.isNaN(perSample)) perSample = options.bytesPerSample?.[planId] ?? NaN;
      if (kind !== 'device' && !(perSample >= 0)) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `plan '${planId}': bytes per sample are unknown; give them in bytesPerSample`);
      }
      const maxAbsError = compression === 'none' ? 0 : options.outputError?.(planId, compression);
      out.push({
        id: candidateId({ planId, compression }),
        planId,
        kind,
        compression,
        bytesUp: kind === 'device' ? 0 : Math.ceil(perSample * samples),
        bytesDown: kind === 'device' ? 0 : Math.ceil(outputBytes * samples),
        head: kind === 'server' ? ZERO : { ...planProfile.head },
        tail: kind === 'device' ? ZERO : { ...(serverTail ?? planProfile.tail) },
        tailSource: serverTail ? 'server-profile' : 'device-profile',
        ...(maxAbsError !== undefined ? { maxAbsError } : {}),
      });
    }
  }
  return out;
}

/** Refuses an empty list, duplicate ids, negative bytes or latencies (CARBONCP_INVALID_ARGUMENT). */
export function checkCandidates(candidates: readonly DecisionCandidate[]): void {
  if (candidates.length === 0) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'the decision needs at least one candidate');
  const seen = new Set<string>();
  for (const c of candidates) {
    if (typeof c.id !== 'string' || c.id === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'a candidate needs a non-empty id');
    if (seen.has(c.id)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate id '${c.id}' appears twice`);
    seen.add(c.id);
    if (c.kind !== 'device' && c.kind !== 'server' && c.kind !== 'split') {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}': kind must be 'device', 'server' or 'split', got ${JSON.stringify(c.kind)}`);
    }
    if (!isCompression(c.compression)) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}': unknown compression ${JSON.stringify(c.compression)}`);
    for (const [name, value] of [
      ['bytesUp', c.bytesUp],
      ['bytesDown', c.bytesDown],
      ['head.medianMs', c.head?.medianMs],
      ['tail.medianMs', c.tail?.medianMs],
    ] as const) {
      if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
        throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}': ${name} must be a finite number >= 0, got ${String(value)}`);
      }
    }
    if (c.maxAbsError !== undefined && !(c.maxAbsError >= 0)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}': maxAbsError must be >= 0, got ${c.maxAbsError}`);
    }
    if (c.siteRttMs !== undefined && !(Number.isFinite(c.siteRttMs) && c.siteRttMs >= 0)) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}': siteRttMs must be a finite number >= 0, got ${String(c.siteRttMs)}`);
    }
    if (c.quality !== undefined && !(typeof c.quality === 'number' && Number.isFinite(c.quality))) {
      throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `candidate '${c.id}': quality must be a finite number, got ${String(c.quality)}`);
    }
  }
}
