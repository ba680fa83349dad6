/** What the page knows of the catalogue's schema, from /api/facets: its facets, in order, and which say a product's kind and colour. */
import type { ApiFacets } from '../http/api/contract.js';

export interface CatalogueView {
  /** The facet columns, in the order to show them. */
  facets: string[];
  kind?: string;
  colour?: string;
}

/** Before /api/facets has answered (or when it failed): products show their title only. */
export const UNKNOWN_CATALOGUE: CatalogueView = { facets: [] };

export function catalogueView(facets: ApiFacets): CatalogueView {
  return {
    facets: facets.facets.map((f) => f.column),
    ...(facets.kind ? { kind: facets.kind } : {}),
    ...(facets.colour ? { colour: facets.colour } : {}),
  };
}

/**
 * A column's name for people: words split at capitals, underscores, hyphens and dots, the first
 * capitalised ("productType" and "product_type" → "Product type"); all capitals stay ("SKU").
 */
export function columnLabel(column: string): string {
  if (/^[A-Z0-9_\s]+$/.test(column) && /[A-Z]/.test(column)) return column.replaceAll('_', ' ');
  const words = column
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_\-.\s]+/g, ' ')
    .trim()
    .toLowerCase();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : column;
}
