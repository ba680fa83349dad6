/**
 * Reading a file that someone else named (a query photo, a metadata file, a JSON file of an
 * index): only a regular file, and only up to a size limit. A FIFO, a device such as /dev/zero
 * or a folder is refused at once instead of blocking or reading without end.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A file that cannot be read as asked (missing, not a regular file, too large). */
export class InputFileError extends Error {
  constructor(
    readonly path: string,
    readonly code: 'missing' | 'not-a-file' | 'too-large' | 'unreadable',
    message: string,
  ) {
    super(message);
  }
}

export interface ReadInputOptions {
  /** Largest accepted size in bytes. */
  maxBytes: number;
  /** What the file is, for messages: "the photo", "the metadata". */
  what?: string;
}

const mib = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 10) / 10} MiB`;

/** The bytes of a regular file of at most `maxBytes`; an InputFileError naming the file otherwise. */
export async function readInputFile(path: string, options: ReadInputOptions): Promise<Buffer> {
  const what = options.what ?? 'the file';
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new InputFileError(path, 'missing', `${what} ${path} does not exist`);
    throw new InputFileError(path, 'unreadable', `cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const kind = st.isDirectory()
        ? 'a folder'
        : st.isFIFO()
          ? 'a FIFO'
          : st.isCharacterDevice() || st.isBlockDevice()
            ? 'a device'
            : st.isSocket()
              ? 'a socket'
              : 'not a regular file';
      throw new InputFileError(path, 'not-a-file', `${what} ${path} is ${kind}, not a regular file`);
    }
    const tooLarge = () =>
      new InputFileError(
        path,
        'too-large',
        `${what} ${path} is over the limit of ${mib(options.maxBytes)} (${options.maxBytes} bytes)`,
      );
    if (st.size > options.maxBytes) throw tooLarge();
    // Read until the end, never more than one byte past the limit (a file may grow while it is read).
    let buffer = Buffer.allocUnsafe(Math.min(st.size, options.maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, options.maxBytes + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > options.maxBytes) throw tooLarge();
    }
    return buffer.subarray(0, length);
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    throw new InputFileError(path, 'unreadable', `cannot read ${what} ${path}: ${(err as Error).message}`);
  } finally {
    await handle.close();
  }
}
