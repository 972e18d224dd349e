import { arch, cpus, platform, release } from 'node:os';

/** This machine as profiles and reports name it: the CPU model, its logical cores, and the OS. */
export interface HostDescription {
  /** The first logical CPU's model string ('unknown' where the OS gives none, as on some ARM boards). */
  cpu: string;
  /** Logical cores (os.cpus()). */
  cores: number;
  /** `platform release arch`, e.g. 'linux 6.8.0-45-generic x64'. */
  os: string;
}

export function describeHost(): HostDescription {
  const list = cpus();
  return { cpu: list[0]?.model.trim() || 'unknown', cores: list.length, os: `${platform()} ${release()} ${arch()}` };
}
