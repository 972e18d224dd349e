import { describe, expect, it } from 'vitest';
import { CarboncpError, isCarboncpError } from './errors.js';

describe('CarboncpError', () => {
  it('carries a code, a cause and a close code', () => {
    const cause = new Error('inner');
    const error = new CarboncpError('CARBONCP_BAD_FRAME', 'bad magic', { cause, closeCode: 1002 });
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('CARBONCP_BAD_FRAME');
    expect(error.cause).toBe(cause);
    expect(error.closeCode).toBe(1002);
    expect(isCarboncpError(error, 'CARBONCP_BAD_FRAME')).toBe(true);
    expect(isCarboncpError(error, 'CARBONCP_BAD_TENSOR')).toBe(false);
    expect(isCarboncpError(new Error('x'))).toBe(false);
  });
});
