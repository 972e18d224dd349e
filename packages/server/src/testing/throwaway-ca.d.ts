/** Types of throwaway-ca.js (plain JavaScript, shared with test/bench's .mjs scripts). */
export interface ThrowawayCa {
  /** The CA's certificate, PEM: what a client trusts (`ca`). */
  cert: string;
  key: string;
  /** A leaf for 127.0.0.1, ::1 and localhost signed by this CA: what the server presents. */
  server: { cert: string; key: string };
}

/** A fresh CA (EC P-256, valid from a day ago to a day ahead) and a server certificate it signs. */
export function throwawayCa(name?: string): Promise<ThrowawayCa>;
