/**
 * int8 and input size: the converter's statically quantised model (calibrated, cached, fused by
 * onnxruntime into int8 kernels), its vectors against fp32's on real photos, and the spec that
 * records precision and input size (old manifests read as fp32 at 224; a change is refused
 * without --rebuild).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { CALIBRATION_PHOTOS } from '../src/embeddings/calibration.js';
import { Embedder, embeddingSpec, sameSpec } from '../src/embeddings/embedder.js';
import { ensureModel } from '../src/embeddings/model-cache.js';
import { EmbeddingSpecSchema } from '../src/embeddings/spec-schema.js';
import { firstCatalogueImages, queryImage } from './support/datasets.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'bin', 'lookalike.js');

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** The op types of the graph onnxruntime runs after its optimisations, with their counts. */
async function optimisedOps(modelPath: string, dir: string): Promise<Map<string, number>> {
  const out = join(dir, 'optimised.onnx');
  // Level 'extended' applies the QDQ fusions and can be saved (the layout transforms of 'all' are machine-specific).
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: out,
  });
  await session.release();
  const model = onnxProto.onnx.ModelProto.decode(await readFile(out));
  const ops = new Map<string, number>();
  for (const node of model.graph?.node ?? [])
    ops.set(node.opType as string, (ops.get(node.opType as string) ?? 0) + 1);
  return ops;
}

const photos = [...firstCatalogueImages(20), queryImage(12967), queryImage(10002)];
const work = await mkdtemp(join(tmpdir(), 'lookalike-int8-'));
after(() => rm(work, { recursive: true, force: true }));

describe('int8 model', { timeout: 900_000 }, () => {
  test('is built once, calibrated on catalogue photos, and its calibration is in the manifest', async () => {
    const first = await ensureModel({ pooling: 'max', head: false, precision: 'int8' });
    const second = await ensureModel({ pooling: 'max', head: false, precision: 'int8' });
    assert.equal(second.converted, false);
    assert.equal(second.path, first.path);
    const { manifest } = second;
    assert.equal(manifest.options.precision, 'int8');
    assert.equal(manifest.options.inputSize, 224);
    assert.equal(manifest.calibration?.method, 'minmax');
    assert.equal(manifest.calibration?.photos, CALIBRATION_PHOTOS);
    const ranges = Object.entries(manifest.calibration?.ranges ?? {});
    // The input, and every activation of ResNet-50 that a convolution or a residual sum reads.
    assert.ok(ranges.length > 60, `${ranges.length} calibrated tensors`);
    for (const [name, [lo, hi]] of ranges) assert.ok(lo <= hi && Number.isFinite(hi), name);
    // ReLU outputs start at 0; the input (pixels minus the caffe means) spans about -124..151.
    assert.deepEqual(manifest.calibration?.ranges.images?.map(Math.round), [-124, 151]);
  });

  test('onnxruntime runs its convolutions as int8 kernels (QLinearConv), the pooling in float', async () => {
    const { path } = await ensureModel({ pooling: 'max', head: false, precision: 'int8' });
    const ops = await optimisedOps(path, work);
    assert.equal(ops.get('QLinearConv'), 53, JSON.stringify(Object.fromEntries(ops)));
    assert.equal(ops.get('Conv') ?? 0, 0);
    assert.equal(ops.get('QLinearAdd'), 15, JSON.stringify(Object.fromEntries(ops)));
    assert.equal(ops.get('GlobalMaxPool'), 1);
  });

  test('its vectors are close to fp32 on catalogue and query photos (cosine >= 0.95 each, 0.985 on average)', async () => {
    const fp32 = await Embedder.create({ precision: 'fp32' });
    const int8 = await Embedder.create({ precision: 'int8' });
    try {
      const a = await fp32.embed(photos);
      const b = await int8.embed(photos);
      const cos = a.map((v, i) => dot(v, b[i] as Float32Array));
      const mean = cos.reduce((s, c) => s + c, 0) / cos.length;
      // Measured on this machine: min 0.977, mean 0.994 over the first 64 catalogue photos.
      assert.ok(Math.min(...cos) >= 0.95, `min cosine ${Math.min(...cos)}`);
      assert.ok(mean >= 0.985, `mean cosine ${mean}`);
      for (const v of b) assert.ok(Math.abs(Math.sqrt(dot(v, v)) - 1) < 1e-5);
      assert.equal(int8.spec.precision, 'int8');
      assert.equal(fp32.spec.precision, 'fp32');
      assert.equal(sameSpec(int8.spec, fp32.spec), false);
    } finally {
      await fp32.close();
      await int8.close();
    }
  });
});

describe('input size', { timeout: 600_000 }, () => {
  test('a 160x160 model gives unit 2048-d vectors near the 224 ones, and the spec records the size', async () => {
    const small = await Embedder.create({ precision: 'fp32', inputSize: 160 });
    const full = await Embedder.create({ precision: 'fp32' });
    try {
      assert.equal(small.spec.inputSize, 160);
      assert.equal(full.spec.inputSize, 224);
      assert.equal(sameSpec(small.spec, full.spec), false);
      const a = await small.embed(photos.slice(0, 6));
      const b = await full.embed(photos.slice(0, 6));
      for (const [i, v] of a.entries()) {
        assert.equal(v.length, 2048);
        assert.ok(Math.abs(Math.sqrt(dot(v, v)) - 1) < 1e-5);
        // The same photo at another scale: related, not identical.
        const c = dot(v, b[i] as Float32Array);
        assert.ok(c > 0.6 && c < 0.9999, `cosine ${c}`);
      }
    } finally {
      await small.close();
      await full.close();
    }
  });

  test('specs written before precision and input size existed read as fp32 at 224', () => {
    const { precision: _p, inputSize: _s, ...old } = embeddingSpec({ precision: 'fp32' });
    const parsed = EmbeddingSpecSchema.parse(old);
    assert.equal(parsed.precision, 'fp32');
    assert.equal(parsed.inputSize, 224);
    assert.ok(sameSpec(parsed, embeddingSpec({ precision: 'fp32', inputSize: 224 })));
    assert.throws(() => EmbeddingSpecSchema.parse({ ...old, inputSize: 100 }));
  });
});

describe('lookalike index --precision / --input-size (CLI)', { timeout: 900_000 }, () => {
  test('are recorded in the index, and changing one is refused without --rebuild', async () => {
    const images = join(work, 'photos');
    await mkdir(images);
    for (const p of firstCatalogueImages(6)) await copyFile(p, join(images, p.split('/').pop() as string));
    const out = join(work, 'index');
    await run('node', [
      cli,
      'index',
      images,
      '--out',
      out,
      '--precision',
      'fp32',
      '--similarity',
      'original',
    ]);
    const manifest = async () => JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    assert.equal((await manifest()).spec.precision, 'fp32');
    assert.equal((await manifest()).spec.inputSize, 224);

    for (const change of [
      ['--precision', 'int8'],
      ['--input-size', '160'],
    ]) {
      const err = await run('node', [cli, 'index', images, '--out', out, ...change]).catch((e) => e);
      assert.equal(err.code, 1, change.join(' '));
      assert.match(err.stderr, /precision=fp32 input=224.*--rebuild/);
    }
    // Without the flags, the index's own precision and size are kept.
    await run('node', [cli, 'index', images, '--out', out]);
    await run('node', [
      cli,
      'index',
      images,
      '--out',
      out,
      '--precision',
      'int8',
      '--input-size',
      '160',
      '--rebuild',
      '--similarity',
      'original',
    ]);
    assert.equal((await manifest()).spec.precision, 'int8');
    assert.equal((await manifest()).spec.inputSize, 160);

    const bad = await run('node', [cli, 'embed', images, '--input-size', '100']).catch((e) => e);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--input-size.*128, 160, 192, 224/);
  });
});
