/**
 * Limits shared by every way in (catalogue files, the command line, the HTTP API). Dependency-free:
 * the web page may bundle it.
 */

/** Longest product id, in characters: longer ids are refused when a catalogue is read. */
export const MAX_PRODUCT_ID_LENGTH = 1000;

/** Largest query photo, in bytes (20 MiB): uploads to the HTTP API and photos given to the CLI. */
export const MAX_PHOTO_BYTES = 20 * 1024 * 1024;
