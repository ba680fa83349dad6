/** Why a photo could not be turned into model input. */
export type ImageErrorCode =
  | 'empty'
  | 'not-found'
  | 'unreadable'
  | 'not-an-image'
  | 'unsupported-format'
  | 'truncated'
  | 'too-large'
  /** Small enough, but its structure would make decoding take too long (e.g. a JPEG with 883 scans). */
  | 'too-complex';

/**
 * A photo that cannot be used: missing, unreadable, not an image, of a format we do not accept, damaged, too
 * large, or too costly to decode. The message reads `${path}: ${reason}`; the underlying error (fs or
 * sharp), if any, is `cause`.
 */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  /** The file path, or '<buffer>' (or a caller-given label) for in-memory input. */
  readonly path: string;
  readonly code: ImageErrorCode;
  /** The human-readable reason, without the path. */
  readonly reason: string;

  constructor(path: string, code: ImageErrorCode, reason: string, options?: { cause?: unknown }) {
    super(`${path}: ${reason}`, options);
    this.path = path;
    this.code = code;
    this.reason = reason;
  }
}

export function isImageError(e: unknown): e is ImageError {
  return e instanceof ImageError;
}
