/**
 * Changes to one product at a time (the admin API, issue 13): the port between the HTTP routes
 * and whatever stores the change. A change is durable when its promise resolves (the index
 * folder's write-ahead log is synced, or the PostgreSQL transaction committed) and searches on
 * this server see it within a second; other servers on the same PostgreSQL store within 5 s.
 *
 * Errors: UnknownProductError (recommend/recommender.ts) for a patch or delete of an id that is
 * not there; ImageError (images/errors.ts) for a photo that cannot be used, as for uploads;
 * InvalidChangeError for a change that is wrong in itself (no photo for a new product, unknown
 * metadata column...).
 */

export type ChangeAction = 'put' | 'patch' | 'delete';

/** What a change did. */
export type ChangeOutcome = 'created' | 'replaced' | 'updated' | 'deleted' | 'unchanged';

export interface PutProduct {
  id: string;
  /** A new photo: its bytes (embedded, and stored by the project). */
  photo?: { bytes: Buffer; filename?: string };
  /** Metadata columns to set (a put replaces all metadata when given). */
  metadata?: Record<string, string>;
}

export interface ChangeResult {
  id: string;
  action: ChangeAction;
  outcome: ChangeOutcome;
  /** Content hash of the product's photo after the change (absent once deleted). */
  hash?: string;
  /** Position of the change in the store's log (increasing). */
  sequence: number;
}

export class InvalidChangeError extends Error {}

export interface CatalogueEditor {
  /** Creates a product, or replaces its photo and/or metadata. A new product needs a photo. */
  put(change: PutProduct): Promise<ChangeResult>;
  /** Changes metadata columns only (merged into the existing ones); the photo is not embedded again. */
  patch(id: string, metadata: Record<string, string>): Promise<ChangeResult>;
  delete(id: string): Promise<ChangeResult>;
}
