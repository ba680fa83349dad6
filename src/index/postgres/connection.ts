/** Connections to a PostgreSQL + pgvector store, chosen by a postgres:// URL. */
import pg from 'pg';

export function isPostgresUrl(location: string | undefined): location is string {
  return location !== undefined && /^postgres(ql)?:\/\//.test(location);
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** `settings`: server parameters for every connection of the pool (e.g. hnsw.ef_search). */
export function createPool(url: string, max = 4, settings: Record<string, string | number> = {}): pg.Pool {
  const options = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: 'lookalike',
    ...(options ? { options } : {}),
  });
  // An idle client's error (the server went away) must not crash the process.
  pool.on('error', () => undefined);
  return pool;
}

/** pgvector's text form of a vector: [x,y,...]. */
export function toVectorLiteral(v: Float32Array): string {
  return `[${Array.from(v).join(',')}]`;
}

export function fromVectorLiteral(text: string): Float32Array {
  return Float32Array.from(JSON.parse(text) as number[]);
}
