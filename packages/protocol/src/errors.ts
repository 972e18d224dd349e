/**
 * The one error base class of carboncp. Every error that crosses a package boundary is a
 * CarboncpError with a stable string `code` that scripts can match on; `cause` keeps the
 * underlying error. Protocol errors also carry the WebSocket close code to use when the error
 * cannot be tied to a single request.
 *
 * It lives in `@carboncp/protocol` because that package sits at the bottom of the import graph
 * (it may import nothing), and the error code travels on the wire; `@carboncp/core` re-exports it.
 */
export class CarboncpError extends Error {
  readonly code: string;
  readonly closeCode?: number;
  readonly details?: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; closeCode?: number; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CarboncpError';
    this.code = code;
    if (options.closeCode !== undefined) this.closeCode = options.closeCode;
    if (options.details !== undefined) this.details = options.details;
  }
}

export function isCarboncpError(value: unknown, code?: string): value is CarboncpError {
  return value instanceof CarboncpError && (code === undefined || value.code === code);
}
