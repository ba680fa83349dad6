/**
 * The editor of the catalogue a recommender serves: changes go to its store (an index folder's
 * write-ahead log, or PostgreSQL) and are searchable on this server as soon as they resolve.
 */
import type { Recommender } from '../recommend/recommender.js';
import { type CatalogueEditor, InvalidChangeError } from './editor.js';
import { StoreEditor } from './store-editor.js';

export async function openEditor(recommender: Recommender): Promise<CatalogueEditor> {
  const base = recommender.store.base;
  if (!base.writeChange) {
    throw new InvalidChangeError(`the store at ${base.info.location} cannot be changed through the API`);
  }
  await base.prepareWrites?.();
  return new StoreEditor(recommender);
}
