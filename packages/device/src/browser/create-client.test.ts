import { ErrorCode } from '@carboncp/protocol';
import { describe, expect, it } from 'vitest';
import { createClient } from './create-client.js';

describe('browser createClient', () => {
  it("refuses a ca: the browser's own trust store decides", async () => {
    const options = { model: new Uint8Array(), plans: '{}', server: 'wss://edge.example.org:8765', ca: '-----BEGIN CERTIFICATE-----' as never };
    await expect(createClient(options)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT, message: expect.stringMatching(/ca is a Node option: in a browser the browser's own trust store decides/) });
  });
});
