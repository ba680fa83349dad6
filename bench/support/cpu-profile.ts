/**
 * A V8 CPU profile (.cpuprofile, as `node --cpu-prof` and the inspector's Profiler write it) summed
 * up by where the time went: each sample's self time goes to the package (node_modules), the
 * project file (src/...), the Node.js module (node:...) or the V8 state ((garbage collector),
 * (idle), (program)) of the function it was in. Native code (an addon's, Node's) has no script:
 * its time goes to the part that called it. Written by hand: the few lines this needs are smaller
 * than any profile-reading package.
 */

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

export interface ProfilePart {
  part: string;
  ms: number;
  share: number;
}

/** The part of the program a script belongs to, from its URL. */
function partOf(url: string): string {
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1] as string;
  const src = url.match(/\/(?:src|dist)\/(.+?)\.[cm]?[jt]s$/);
  if (src) return `src/${src[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

/** Each node's part: its script's, or for native code its caller's; V8's states as they are named. */
function partsByNode(profile: CpuProfile): Map<number, string> {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parts = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = parts.get(id);
    if (known !== undefined) return known;
    const { url, functionName } = (byId.get(id) as CpuProfile['nodes'][number]).callFrame;
    const up = parent.get(id);
    const part = url
      ? partOf(url)
      : functionName.startsWith('(') || up === undefined
        ? functionName || '(unknown)'
        : resolve(up);
    parts.set(id, part);
    return part;
  };
  for (const n of profile.nodes) resolve(n.id);
  return parts;
}

/** Self time by part, largest first. */
export function profileParts(profile: CpuProfile): { totalMs: number; parts: ProfilePart[] } {
  const partById = partsByNode(profile);
  const micros = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const part = partById.get(id) ?? '(unknown)';
    micros.set(part, (micros.get(part) ?? 0) + dt);
    total += dt;
  });
  const parts = [...micros]
    .map(([part, us]) => ({ part, ms: us / 1000, share: total > 0 ? us / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
  return { totalMs: total / 1000, parts };
}
