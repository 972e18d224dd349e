import { CarboncpError, type ErrorCode } from '@carboncp/protocol';

/**
 * Field readers for a JSON document whose every fault is one error code: each refuses a value
 * of the wrong kind with `${label}: ${path} ${what it must be}`. The plan and profile readers
 * share them, so their checks and messages cannot drift apart.
 */
export function jsonFields(code: ErrorCode, label: string) {
  const bad = (path: string, message: string): never => {
    throw new CarboncpError(code, `${label}: ${path} ${message}`);
  };
  return {
    bad,
    object(value: unknown, path: string): Record<string, unknown> {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) bad(path, 'must be an object');
      return value as Record<string, unknown>;
    },
    array(value: unknown, path: string): unknown[] {
      if (!Array.isArray(value)) bad(path, 'must be an array');
      return value as unknown[];
    },
    string(value: unknown, path: string): string {
      if (typeof value !== 'string' || value === '') bad(path, 'must be a non-empty string');
      return value as string;
    },
    boolean(value: unknown, path: string): boolean {
      if (typeof value !== 'boolean') bad(path, 'must be true or false');
      return value as boolean;
    },
    digest(value: unknown, path: string): string {
      if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) bad(path, 'must be a sha256 hex digest');
      return value as string;
    },
  };
}
