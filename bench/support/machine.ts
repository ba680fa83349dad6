/** The machine a figure was measured on: CPU model, the vector extensions that matter, cores. */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const FLAGS = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni'];

export interface Machine {
  cpu: string;
  cpuFlags: string;
  cores: number;
}

export function machine(): Machine {
  let cpuFlags = 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const all = new Set(line?.split(':')[1]?.trim().split(/\s+/) ?? []);
    cpuFlags = FLAGS.filter((f) => all.has(f)).join(' ') || 'none of avx2/avx512';
  } catch {
    // Not Linux: the model name alone.
  }
  return { cpu: cpus()[0]?.model ?? 'unknown CPU', cpuFlags, cores: cpus().length };
}

export function describeMachine(m: Machine = machine()): string {
  return `${m.cpu} (${m.cpuFlags}), ${m.cores} cores`;
}
