/**
 * GPU power caps chosen by the grid's carbon intensity and the server's queue, applied with
 * `nvidia-smi -i IDX -pl WATTS` and restored on close (and, synchronously, on process exit).
 *
 * The policy (choosePowerCap) is @carboncp/core's power-cap-policy.ts, shared with the
 * simulator: re-exported here under the names the server has always had.
 *
 * Where the cap cannot be set (nvidia-smi absent, no settable limit, not root), the server logs
 * one line and runs without a cap: never a crash.
 */
import { choosePowerCap, clampPowerCap as clamp, resolvePowerCapPolicy, type PowerCapPolicy } from '@carboncp/core';
import { CarboncpError, ErrorCode } from '@carboncp/protocol';
import { NVIDIA_SMI_LIMITS_ARGS, nvidiaSmiSetLimitArgs, parseNvidiaSmiPowerLimits, type GpuPowerLimits, type NvidiaSmiRunner } from './nvidia-smi.js';

export { DEFAULT_POWER_CAP_POLICY, choosePowerCap, resolvePowerCapPolicy, type PowerCapPolicy } from '@carboncp/core';

/** 'auto': chosen by the policy; a number: that many watts per GPU (clamped to its range); 'off'. */
export type PowerCapMode = 'auto' | 'off' | number;

export interface PowerCapOptions extends Partial<PowerCapPolicy> {
  mode: PowerCapMode;
  /** GPU indices to cap; default every GPU nvidia-smi lists with a settable limit. */
  gpus?: number[];
  /** How often the policy is re-evaluated (ms). Default 1000. */
  intervalMs?: number;
  /** The nvidia-smi to run. Default 'nvidia-smi' on PATH. */
  command?: string;
}

/** A power cap option checked, with its defaults; undefined for 'off'. */
export interface ResolvedPowerCap {
  mode: Exclude<PowerCapMode, 'off'>;
  policy: PowerCapPolicy;
  gpus: number[] | undefined;
  intervalMs: number;
  command: string;
}

/** Checks a server's powerCap option; CARBONCP_INVALID_ARGUMENT names the bad field. */
export function resolvePowerCap(options: PowerCapOptions | undefined): ResolvedPowerCap | undefined {
  if (options === undefined || options.mode === 'off') return undefined;
  const { mode, gpus, intervalMs = 1000, command = 'nvidia-smi', ...policy } = options;
  if (mode !== 'auto' && (typeof mode !== 'number' || !Number.isFinite(mode) || mode <= 0)) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.mode must be 'auto', 'off' or a number of watts > 0, got ${JSON.stringify(mode)}`);
  }
  if (gpus !== undefined && (!Array.isArray(gpus) || gpus.length === 0 || gpus.some((g) => !Number.isInteger(g) || g < 0))) {
    throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.gpus must be a non-empty list of GPU indices, got ${JSON.stringify(gpus)}`);
  }
  if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, `powerCap.intervalMs must be an integer >= 1, got ${String(intervalMs)}`);
  if (typeof command !== 'string' || command === '') throw new CarboncpError(ErrorCode.INVALID_ARGUMENT, 'powerCap.command must be a non-empty string');
  return { mode, policy: resolvePowerCapPolicy(policy), gpus, intervalMs, command };
}

/** What pongs and /metrics report: the caps applied now, per GPU, and why. */
export interface PowerCapState {
  mode: 'auto' | 'fixed';
  gpus: { index: number; watts: number; defaultW: number }[];
  reason: string;
}

export interface ServerPowerCapOptions {
  mode: Exclude<PowerCapMode, 'off'>;
  policy: PowerCapPolicy;
  gpus?: number[];
  intervalMs: number;
  nvidiaSmi: NvidiaSmiRunner;
  /** The inputs of the policy now: the server's grid intensity and its queue. */
  inputs: () => { intensityGPerKwh: number | undefined; queueDepth: number };
  log: (line: string) => void;
}

/** Applies, re-evaluates and restores the power caps of the server's GPUs (see the module comment). */
export class ServerPowerCap {
  private gpus: GpuPowerLimits[] = [];
  /** The limit each GPU had before this server changed it: what close and exit restore. */
  private readonly original = new Map<number, number>();
  private readonly applied = new Map<number, number>();
  private reason = '';
  private enabled = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly exitHook = () => this.restoreSync();

  constructor(private readonly options: ServerPowerCapOptions) {}

  /** Reads the limits and applies the first cap. Logs and stays off where that fails; never throws. */
  async start(): Promise<void> {
    let gpus: GpuPowerLimits[];
    try {
      gpus = parseNvidiaSmiPowerLimits(await this.options.nvidiaSmi.run(NVIDIA_SMI_LIMITS_ARGS));
    } catch (error) {
      this.options.log(`power cap: off (could not read the GPU power limits: ${(error as Error).message})`);
      return;
    }
    const wanted = this.options.gpus;
    this.gpus = wanted ? gpus.filter((g) => wanted.includes(g.index)) : gpus;
    const missing = wanted?.filter((i) => !gpus.some((g) => g.index === i)) ?? [];
    if (missing.length > 0 || this.gpus.length === 0) {
      this.options.log(`power cap: off (GPU ${missing.join(', ')} has no settable power limit; nvidia-smi lists ${gpus.map((g) => g.index).join(', ')})`);
      return;
    }
    for (const gpu of this.gpus) {
      this.original.set(gpu.index, gpu.limitW);
      this.applied.set(gpu.index, gpu.limitW);
    }
    this.enabled = true;
    process.on('exit', this.exitHook);
    await this.tick();
    if (!this.enabled) return;
    this.options.log(
      `power cap: ${this.options.mode === 'auto' ? 'auto' : `fixed ${this.options.mode} W`} on GPU ${this.gpus.map((g) => `${g.index} (${g.minW}-${g.maxW} W, default ${g.defaultW} W, was ${g.limitW} W)`).join(', ')}` +
        `${this.options.mode === 'auto' ? `; re-evaluated every ${this.options.intervalMs} ms` : ''}`,
    );
    if (this.options.mode === 'auto') {
      this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** Re-evaluates the policy and sets what changed; one evaluation at a time. */
  tick(): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    this.ticking ??= this.evaluate().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async evaluate(): Promise<void> {
    const { mode, policy } = this.options;
    const inputs = this.options.inputs();
    for (const gpu of this.gpus) {
      let target: { watts: number; reason: string };
      if (mode === 'auto') {
        target = choosePowerCap(gpu, inputs, policy);
      } else {
        const watts = clamp(mode, gpu);
        target = { watts, reason: watts === mode ? `fixed ${mode} W` : `fixed ${mode} W clamped to the board's ${gpu.minW}-${gpu.maxW} W` };
      }
      this.reason = target.reason;
      if (this.applied.get(gpu.index) === target.watts) continue;
      try {
        await this.options.nvidiaSmi.run(nvidiaSmiSetLimitArgs(gpu.index, target.watts));
        this.applied.set(gpu.index, target.watts);
        this.options.log(`power cap: GPU ${gpu.index} set to ${target.watts} W (${target.reason})`);
      } catch (error) {
        const denied = /permission|not allowed|root/i.test((error as Error).message) || (error as CarboncpError).details?.exitCode === 4;
        this.options.log(
          `power cap: off (nvidia-smi could not set GPU ${gpu.index}'s power limit${denied ? ': insufficient permissions; setting a power limit needs root (or an administrator)' : ''}: ${(error as Error).message}); running without a cap`,
        );
        await this.disable();
        return;
      }
    }
  }

  /** The caps now, or undefined when no cap is managed (off, or it could not be set). */
  state(): PowerCapState | undefined {
    if (!this.enabled) return undefined;
    return {
      mode: this.options.mode === 'auto' ? 'auto' : 'fixed',
      gpus: this.gpus.map((g) => ({ index: g.index, watts: this.applied.get(g.index) ?? g.limitW, defaultW: g.defaultW })),
      reason: this.reason,
    };
  }

  /** Stops re-evaluating and restores every GPU this server changed to the limit it had before. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.disable();
  }

  private async disable(): Promise<void> {
    this.enabled = false;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const [index, watts] of this.changed()) {
      try {
        await this.options.nvidiaSmi.run(nvidiaSmiSetLimitArgs(index, watts));
        this.applied.set(index, watts);
        this.options.log(`power cap: GPU ${index} restored to ${watts} W`);
      } catch (error) {
        this.options.log(`power cap: could not restore GPU ${index} to ${watts} W: ${(error as Error).message}`);
      }
    }
    process.off('exit', this.exitHook);
  }

  private changed(): [number, number][] {
    return [...this.original].filter(([index, watts]) => this.applied.get(index) !== watts);
  }

  /** For process exit (an error stopping the process, where nothing asynchronous runs). */
  restoreSync(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const [index, watts] of this.changed()) {
      try {
        this.options.nvidiaSmi.runSync(nvidiaSmiSetLimitArgs(index, watts));
        this.applied.set(index, watts);
        this.options.log(`power cap: GPU ${index} restored to ${watts} W (process exit)`);
      } catch (error) {
        this.options.log(`power cap: could not restore GPU ${index} to ${watts} W at exit: ${(error as Error).message}`);
      }
    }
    this.enabled = false;
    process.off('exit', this.exitHook);
  }
}
