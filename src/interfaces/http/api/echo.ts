/**
 * How error messages quote what a request said (a parameter or field name, a product id, a value):
 * JSON-quoted, so control characters and quotes are escaped, and cut short, so that an answer never
 * grows with what the client sent.
 */

/** Longest quoted text, in characters (code points). */
export const MAX_QUOTED = 64;
/** Most names a message lists. */
export const MAX_LISTED = 5;

/** `"text"`, or its first MAX_QUOTED characters and an ellipsis. */
export function quote(text: string, max = MAX_QUOTED): string {
  const chars = Array.from(text.length > 4 * max ? text.slice(0, 4 * max) : text);
  return JSON.stringify(chars.length > max ? `${chars.slice(0, max).join('')}…` : text);
}

/** `"a", "b", "c"`, or the first MAX_LISTED of them and how many more. */
export function quoteList(names: readonly string[], max = MAX_LISTED): string {
  const shown = names.slice(0, max).map((name) => quote(name));
  return names.length > max ? `${shown.join(', ')} and ${names.length - max} more` : shown.join(', ');
}
