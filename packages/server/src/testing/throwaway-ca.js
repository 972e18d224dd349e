/**
 * Throwaway certificate authorities for the TLS tests (selfsigned, a devDependency): a CA, and a
 * server certificate it signs for 127.0.0.1, ::1 and localhost. EC P-256 keys: generated in
 * milliseconds, where RSA 2048 takes a noticeable part of a second on a loaded machine.
 * Plain JavaScript (typed by throwaway-ca.d.ts) so that test/bench's .mjs scripts use this one
 * copy too, beside the TypeScript tests of server, cli and test/e2e.
 */
import { generate } from 'selfsigned';

const ONE_DAY_MS = 24 * 60 * 60 * 1000;

/** @param {string} [name] the CA's common name */
export async function throwawayCa(name = 'carboncp test CA') {
  const notBeforeDate = new Date(Date.now() - ONE_DAY_MS);
  const notAfterDate = new Date(Date.now() + ONE_DAY_MS);
  const ca = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { cert: ca.cert, key: ca.private, server: { cert: leaf.cert, key: leaf.private } };
}
