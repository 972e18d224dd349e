import { ErrorCode } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { connectionError, describeTlsFailure, resolveTrustedCa } from './tls-trust.js';

// The real handshakes (a throwaway CA, wss:// and https://) are in test/e2e/tls.test.ts.
const tlsError = (code: string, message = 'handshake failed') => Object.assign(new Error(message), { code });

describe('the ca option', () => {
  it('takes PEM text or bytes, or a non-empty array of them', () => {
    expect(resolveTrustedCa(undefined)).toBeUndefined();
    expect(resolveTrustedCa('-----BEGIN CERTIFICATE-----')).toEqual(['-----BEGIN CERTIFICATE-----']);
    const bytes = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 4);
    const [asBuffer] = resolveTrustedCa([bytes])!;
    expect(Buffer.isBuffer(asBuffer) && [...asBuffer]).toEqual([2, 3, 4]);
    for (const bad of [42, '', [], ['pem', 7], { cert: 'x' }]) {
      expect(() => resolveTrustedCa(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    }
  });
});

describe('TLS failures', () => {
  it("name a certificate this client does not trust, or a peer that speaks no TLS; other errors stay as they are", () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      expect(describeTlsFailure(tlsError(code)), code).toMatch(new RegExp(`^the server's TLS certificate is not trusted \\(${code}: handshake failed\\); .*\`ca\` option`));
    }
    expect(describeTlsFailure(tlsError('ERR_SSL_WRONG_VERSION_NUMBER'))).toMatch(/is the server speaking TLS/);
    expect(describeTlsFailure(tlsError('ECONNREFUSED'))).toBeUndefined();
    expect(describeTlsFailure(new Error('no code'))).toBeUndefined();
  });

  it('become CARBONCP_CONNECTION_LOST with the cause, and details.tls only for TLS', () => {
    const untrusted = tlsError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate');
    const error = connectionError('wss://h:1', untrusted);
    expect([error.code, error.cause, error.details]).toEqual([ErrorCode.CONNECTION_LOST, untrusted, { tls: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }]);
    expect(error.message).toMatch(/^cannot connect to wss:\/\/h:1: the server's TLS certificate is not trusted/);
    const refused = connectionError('ws://h:1', tlsError('ECONNREFUSED', 'connect ECONNREFUSED'));
    expect([refused.code, refused.message, refused.details]).toEqual([ErrorCode.CONNECTION_LOST, 'cannot connect to ws://h:1: connect ECONNREFUSED', undefined]);
  });
});
