/**
 * The `--power-cap` flags of `carboncp serve`: auto|off|WATTS and the auto policy's parameters,
 * checked by the server's own resolver (one place judges the values).
 */
import { CarboncpError, ErrorCode, isCarboncpError } from '@carboncp/protocol';
import { resolvePowerCap, type PowerCapOptions } from '@carboncp/server';

export const POWER_CAP_FLAGS = {
  'power-cap': { type: 'string' },
  'power-cap-low-carbon': { type: 'string' },
  'power-cap-high-carbon': { type: 'string' },
  'power-cap-lift-queue': { type: 'string' },
  'power-cap-low-fraction': { type: 'string' },
  'power-cap-gpus': { type: 'string' },
} as const;

const POLICY_FLAGS: [string, keyof PowerCapOptions][] = [
  ['power-cap-low-carbon', 'lowCarbonGPerKwh'],
  ['power-cap-high-carbon', 'highCarbonGPerKwh'],
  ['power-cap-lift-queue', 'liftQueueDepth'],
  ['power-cap-low-fraction', 'lowCapFraction'],
];

function usage(message: string, cause?: unknown): CarboncpError {
  return new CarboncpError(ErrorCode.USAGE, `serve: ${message}; see 'carboncp serve --help'`, cause === undefined ? {} : { cause });
}

function numberFlag(flag: string, value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw usage(`--${flag} must be a number, got '${value}'`);
  return parsed;
}

/** The server's powerCap option from the flags, or undefined when --power-cap is absent or off. */
export function parsePowerCapFlags(get: (flag: string) => string | undefined): PowerCapOptions | undefined {
  const mode = get('power-cap');
  const given = [...POLICY_FLAGS.map(([flag]) => flag), 'power-cap-gpus'].filter((flag) => get(flag) !== undefined);
  if (mode === undefined || mode === 'off') {
    if (given.length > 0) throw usage(`--${given[0]} needs --power-cap auto or --power-cap WATTS`);
    return undefined;
  }
  let options: PowerCapOptions;
  if (mode === 'auto') {
    options = { mode: 'auto' };
    for (const [flag, key] of POLICY_FLAGS) {
      const value = get(flag);
      if (value !== undefined) Object.assign(options, { [key]: numberFlag(flag, value) });
    }
  } else {
    if (!/^\d+(\.\d+)?$/.test(mode)) throw usage(`--power-cap takes auto, off or a number of watts, got '${mode}'`);
    const policyFlag = POLICY_FLAGS.find(([flag]) => get(flag) !== undefined);
    if (policyFlag) throw usage(`--${policyFlag[0]} applies to --power-cap auto only`);
    options = { mode: Number(mode) };
  }
  const gpus = get('power-cap-gpus');
  if (gpus !== undefined) {
    const list = gpus.split(',').map((g) => g.trim());
    if (list.some((g) => !/^\d+$/.test(g))) throw usage(`--power-cap-gpus takes comma-separated GPU indices, got '${gpus}'`);
    options.gpus = list.map(Number);
  }
  try {
    resolvePowerCap(options);
  } catch (error) {
    if (!isCarboncpError(error, ErrorCode.INVALID_ARGUMENT)) throw error;
    let message = error.message;
    for (const [flag, key] of POLICY_FLAGS) message = message.replace(`powerCap.${key}`, `--${flag}`);
    throw usage(message.replace('powerCap.mode', '--power-cap'), error);
  }
  return options;
}
