#!/usr/bin/env node
// The image's HEALTHCHECK: exit 0 when the URL given (the server's liveness route) answers 2xx
// within two seconds, else 1. Node's own fetch, because the slim runtime image has no curl.
const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: healthcheck.mjs URL\n');
  process.exit(2);
}
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`healthcheck: ${url}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
