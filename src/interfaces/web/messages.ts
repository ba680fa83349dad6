/** What to tell people about a photo that cannot be searched. */
import { MAX_UPLOAD_BYTES } from '../http/api/contract.js';
import { ApiFailure } from './api.js';

const ACCEPTED = 'Use a JPEG, PNG, WebP, GIF, AVIF or TIFF photo.';

/** Sizes in MB (MiB, as the server counts them), e.g. "21.4 MB". */
export function megabytes(bytes: number, digits = 1): string {
  return `${(bytes / 1024 / 1024).toFixed(digits)} MB`;
}

/** A reason to refuse a file before uploading it, if there is one. */
export function checkFile(file: File): string | undefined {
  if (file.size === 0) return `“${file.name}” is empty.`;
  if (file.size > MAX_UPLOAD_BYTES) {
    return `“${file.name}” is ${megabytes(file.size)}, more than the ${megabytes(MAX_UPLOAD_BYTES, 0)} limit. Try a smaller photo.`;
  }
  // The browser's type comes from the name; where it says "not an image", believe it.
  // Where it is unknown (empty), the server decides from the content.
  if (file.type !== '' && !file.type.startsWith('image/')) {
    return `“${file.name}” is not an image. ${ACCEPTED}`;
  }
  return undefined;
}

/** Whether the server found the uploaded file unusable as a photo (rather than the search failing). */
export function isUnreadablePhoto(err: unknown): boolean {
  return (
    err instanceof ApiFailure &&
    ['not-an-image', 'unsupported-format', 'truncated', 'empty', 'too-large', 'too-complex'].includes(
      err.code,
    )
  );
}

/** A search failure, for people. */
export function describeFailure(err: unknown, photoName?: string): string {
  const what = photoName ? `“${photoName}”` : 'This photo';
  if (!(err instanceof ApiFailure)) return 'Something went wrong. Please try again.';
  switch (err.code) {
    case 'not-an-image':
      return `${what} is not an image we can read. ${ACCEPTED}`;
    case 'unsupported-format':
      return `${what} is in a format we do not support (${err.message}). ${ACCEPTED}`;
    case 'too-large':
      return `${what} is too large: ${err.message}.`;
    case 'too-complex':
      return `${what} takes too much work to decode (${err.message}). Try a plainer copy, such as a screenshot of it.`;
    case 'truncated':
      return `${what} seems damaged or incomplete, so it cannot be read. Try another copy of it.`;
    case 'empty':
      return `${what} is empty.`;
    case 'busy':
      return 'The server is busy right now. Please try again in a few seconds.';
    case 'unknown-product':
      return 'That product is no longer in the catalogue.';
    case 'network':
      return err.message;
    default:
      return `The search failed: ${err.message}`;
  }
}
