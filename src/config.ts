import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root folder (the one holding package.json), whether running from src/ or dist/. */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where fetched weights, converted models and other generated artefacts live (git-ignored). */
export const cacheDir = resolve(process.env.LOOKALIKE_CACHE ?? join(projectRoot, '.cache'));

/** The shared datasets beside the project root. */
export const datasetsDir = resolve(
  process.env.LOOKALIKE_DATASETS ?? join(projectRoot, '..', 'shared', 'datasets'),
);

/** The index that commands use when no --index/--out is given. */
export const defaultIndexDir = resolve(process.env.LOOKALIKE_INDEX ?? join(cacheDir, 'index'));
