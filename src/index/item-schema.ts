/**
 * A product as the index files store it (IndexItem): the items file of a generation, and the
 * write-ahead log's records. A module of its own, so that store.ts and wal.ts, which import each
 * other, both have it when they are evaluated.
 */
import { z } from 'zod';

export const indexItemZ = z.object({
  id: z.string(),
  file: z.string(),
  hash: z.string(),
  bytes: z.number(),
  mtimeMs: z.number(),
  metadata: z.record(z.string(), z.string()),
});
