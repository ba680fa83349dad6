import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Embedder } from '../src/embeddings/embedder.js';
import { preprocess } from '../src/embeddings/input-tensor.js';
import { CONVERTER_VERSION, ensureModel } from '../src/embeddings/model-cache.js';
import { POOLINGS } from '../src/embeddings/spec.js';
import { ensureWeights, WEIGHTS_SOURCE } from '../src/embeddings/weights.js';
import { ImageError } from '../src/images/errors.js';
import { catalogueImage, firstCatalogueImages, queryImage } from './support/datasets.js';
import { loadReference, type Reference } from './support/tfjs-reference.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * Whether onnxruntime can run on CUDA here, found without onnxruntime: its CUDA execution provider is
 * installed (ONNXRUNTIME_NODE_INSTALL=cuda12; the default install skips it), an NVIDIA driver is
 * loaded, and the provider's libraries (CUDA runtime, cuBLAS, cuDNN) all resolve.
 */
async function cudaAvailability(): Promise<{ available: boolean; why?: string }> {
  const ort = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const provider = join(
    ort,
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
    'libonnxruntime_providers_cuda.so',
  );
  if (!existsSync(provider)) return { available: false, why: `no ${provider}` };
  if (!existsSync('/proc/driver/nvidia/version') && !existsSync('/dev/nvidiactl')) {
    return { available: false, why: 'no NVIDIA driver loaded' };
  }
  const { stdout } = await run('ldd', [provider]);
  const missing = stdout.split('\n').filter((l) => l.includes('not found'));
  if (missing.length > 0)
    return { available: false, why: `missing ${missing.map((l) => l.trim()).join(', ')}` };
  return { available: true };
}

// 10 catalogue photos in file order plus a greyscale one (10705) and a 224x224 query photo.
const photos = [...firstCatalogueImages(10), catalogueImage(10705), queryImage(12967)];

describe('ONNX conversion matches the TF.js reference model', { timeout: 600_000 }, () => {
  let reference: Reference;
  before(
    async () => {
      reference = await loadReference((await ensureWeights()).modelDir);
    },
    { timeout: 300_000 },
  );

  for (const resize of ['stretch', 'pad'] as const) {
    test(`pooled features, cosine >= 0.9999 for every photo and pooling (resize ${resize})`, async (t) => {
      const embedders = await Promise.all(POOLINGS.map((pooling) => Embedder.create({ pooling, resize })));
      const ours = await Promise.all(embedders.map((e) => e.embed(photos)));
      let lowest = 1;
      for (const [i, photo] of photos.entries()) {
        const expected = reference.run(await preprocess(photo, { resize, seedCompat: false }));
        POOLINGS.forEach((pooling, p) => {
          const c = cosine(ours[p]?.[i] as Float32Array, expected.features[pooling]);
          assert.ok(c >= 0.9999, `${photo} ${pooling}: cosine ${c}`);
          lowest = Math.min(lowest, c);
        });
      }
      t.diagnostic(
        `${photos.length} photos x ${POOLINGS.length} poolings: lowest cosine ${lowest.toFixed(8)}`,
      );
      await Promise.all(embedders.map((e) => e.close()));
    });
  }

  test('classifier head: ImageNet top-5 names the obvious class', async () => {
    const expected: [number, string][] = [
      [12967, 'sandal'],
      [10866, 'jersey'],
      [12993, 'running_shoe'],
      [12732, 'backpack'],
      [16957, 'sunglass'],
      [17429, 'digital_watch'],
      [11340, 'jean'],
    ];
    const embedder = await Embedder.create({ head: true });
    const top5 = await embedder.classify(expected.map(([id]) => queryImage(id)));
    expected.forEach(([id, label], i) => {
      const labels = top5[i]?.map((c) => c.label) ?? [];
      assert.ok(labels.includes(label), `${id}: expected ${label} in ${labels.join(', ')}`);
    });
    // The head's probabilities agree with the reference too.
    const ref = reference.run(await preprocess(queryImage(12967), { resize: 'stretch', seedCompat: false }));
    const refTop = [...ref.probabilities].indexOf(Math.max(...ref.probabilities));
    assert.equal(top5[0]?.[0]?.index, refTop);
    await embedder.close();
  });
});

describe('model cache', { timeout: 120_000 }, () => {
  test('a second run reuses the converted model; the manifest records source and options', async () => {
    const first = await ensureModel({ pooling: 'avg', head: false });
    const second = await ensureModel({ pooling: 'avg', head: false });
    assert.equal(second.converted, false);
    assert.equal(second.path, first.path);
    const manifest = JSON.parse(await readFile(second.path.replace(/\.onnx$/, '.json'), 'utf8'));
    assert.equal(manifest.source.integrity, WEIGHTS_SOURCE.integrity);
    assert.equal(manifest.converterVersion, CONVERTER_VERSION);
    // Manifests written before precision and input size existed lack them: fp32 at 224.
    assert.deepEqual(
      { precision: 'fp32', inputSize: 224, ...manifest.options },
      { pooling: 'avg', head: false, precision: 'fp32', inputSize: 224 },
    );
    assert.match(manifest.sha256, /^[0-9a-f]{64}$/);
  });
});

describe('embed API', { timeout: 300_000 }, () => {
  let embedder: Embedder;
  before(
    async () => {
      embedder = await Embedder.create({ batchSize: 4 });
    },
    { timeout: 300_000 },
  );
  after(() => embedder.close());

  test('unit-length 2048-d vectors, with the spec that made them', async () => {
    const vectors = await embedder.embed(photos.slice(0, 6));
    assert.equal(vectors.length, 6);
    for (const v of vectors) {
      assert.equal(v.length, 2048);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
    }
    assert.deepEqual(
      {
        pooling: embedder.spec.pooling,
        resize: embedder.spec.resize,
        channelOrder: embedder.spec.channelOrder,
      },
      { pooling: 'max', resize: 'stretch', channelOrder: 'bgr' },
    );
    // Batching does not change results.
    const single = await embedder.embed([photos[5] as string]);
    assert.ok(cosine(single[0] as Float32Array, vectors[5] as Float32Array) > 0.99999);
  });

  test('one bad image does not abort the batch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lookalike-'));
    const bad = join(dir, 'not-a-photo.jpg');
    await writeFile(bad, 'this is text');
    const results = await embedder.embedEach([photos[0] as string, bad, photos[1] as string]);
    assert.ok(results[0] instanceof Float32Array);
    assert.ok(results[1] instanceof ImageError);
    assert.equal((results[1] as ImageError).path, bad);
    assert.ok(results[2] instanceof Float32Array);
    await assert.rejects(
      embedder.embed([bad]),
      (err: unknown) => err instanceof ImageError && err.message.includes(bad),
    );
    await rm(dir, { recursive: true });
  });

  test('seed-compat feeds R,G,B and so gives other vectors, recorded in the spec', async () => {
    const compat = await Embedder.create({ seedCompat: true });
    assert.equal(compat.spec.channelOrder, 'rgb-seed-compat');
    const [a] = await embedder.embed([photos[0] as string]);
    const [b] = await compat.embed([photos[0] as string]);
    const c = cosine(a as Float32Array, b as Float32Array);
    assert.ok(c < 0.999 && c > 0.5, `cosine ${c}`);
    await compat.close();
  });

  test('asking for CUDA runs on CUDA where it is available, and falls back to the CPU with a message where not', async (t) => {
    const cuda = await cudaAvailability();
    t.diagnostic(
      cuda.available ? 'CUDA is available: expecting CUDA' : `no CUDA (${cuda.why}): expecting the CPU`,
    );
    const gpu = await Embedder.create({ device: 'cuda' });
    try {
      assert.equal(gpu.device, cuda.available ? 'cuda' : 'cpu');
      const [a] = await gpu.embed([photos[0] as string]);
      const [b] = await embedder.embed([photos[0] as string]);
      // The same vectors (up to the GPU's other order of floating-point operations).
      assert.ok(cosine(a as Float32Array, b as Float32Array) > (cuda.available ? 0.9999 : 0.99999));
    } finally {
      await gpu.close();
    }
    // The command line says why it fell back, and still succeeds; on CUDA it says nothing of the kind.
    const { stdout, stderr } = await run('node', [
      cli,
      'embed',
      '--json',
      '--device',
      'cuda',
      photos[0] as string,
    ]);
    assert.equal(JSON.parse(stdout).vector.length, 2048);
    if (cuda.available) assert.doesNotMatch(stderr, /CUDA execution provider unavailable/);
    else assert.match(stderr, /CUDA execution provider unavailable.*using the CPU/);
  });
});

describe('lookalike embed (CLI)', { timeout: 180_000 }, () => {
  test('--json prints one object per photo with a 2048-d vector', async () => {
    const { stdout } = await run('node', [cli, 'embed', '--json', photos[0] as string, photos[1] as string]);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].path, photos[0]);
    assert.equal(lines[0].vector.length, 2048);
  });

  test('a bad file is reported by name, the others still print, and the exit status is 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lookalike-'));
    const empty = join(dir, 'empty.png');
    await writeFile(empty, '');
    const err = await run('node', [cli, 'embed', '--json', empty, photos[0] as string]).catch((e) => e);
    assert.equal(err.code, 2);
    const lines = err.stdout
      .trim()
      .split('\n')
      .map((l: string) => JSON.parse(l));
    assert.equal(lines[0].path, empty);
    assert.equal(lines[0].error.code, 'empty');
    assert.equal(lines[1].vector.length, 2048);
    assert.match(err.stderr, /empty\.png/);
    await rm(dir, { recursive: true });
  });

  test('bad options give a clear message and exit 1', async () => {
    const err = await run('node', [cli, 'embed', '--pooling', 'median', photos[0] as string]).catch((e) => e);
    assert.equal(err.code, 1);
    assert.match(err.stderr, /median/);
    assert.match(err.stderr, /max, avg, gem|"max", "avg", "gem"/);
  });
});
