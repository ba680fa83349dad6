/**
 * Embedding throughput on real catalogue photos, decode included: images/s and ms/image at
 * batch 1 and batch 16, for each pooling.
 *
 *   npm run bench:embed [-- --images 256 --json]
 */
import { parseArgs } from 'node:util';
import { Embedder } from '../src/embeddings/embedder.js';
import { POOLINGS } from '../src/embeddings/spec.js';
import { firstCatalogueImages } from '../test/support/datasets.js';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '256' }, json: { type: 'boolean', default: false } },
});
const count = Number(values.images);
const photos = firstCatalogueImages(count);
const rows: {
  pooling: string;
  batch: number;
  images: number;
  imagesPerSecond: number;
  msPerImage: number;
}[] = [];

for (const pooling of POOLINGS) {
  for (const batch of [1, 16]) {
    const embedder = await Embedder.create({ pooling, batchSize: batch });
    await embedder.embedEach(photos.slice(0, 16)); // warm-up
    const started = performance.now();
    const results = await embedder.embedEach(photos);
    const seconds = (performance.now() - started) / 1000;
    if (results.some((r) => !(r instanceof Float32Array)))
      throw new Error('a catalogue photo failed to embed');
    rows.push({
      pooling,
      batch,
      images: photos.length,
      imagesPerSecond: photos.length / seconds,
      msPerImage: (seconds * 1000) / photos.length,
    });
    process.stderr.write(
      `pooling=${pooling} batch=${batch}: ${(photos.length / seconds).toFixed(1)} images/s\n`,
    );
    await embedder.close();
  }
}

if (values.json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  process.stdout.write(
    `Embedding ${photos.length} catalogue photos (decode + pre-process + ResNet-50), CPU\n\n`,
  );
  process.stdout.write('| pooling | batch | images/s | ms/image |\n|---|---:|---:|---:|\n');
  for (const r of rows) {
    process.stdout.write(
      `| ${r.pooling} | ${r.batch} | ${r.imagesPerSecond.toFixed(1)} | ${r.msPerImage.toFixed(1)} |\n`,
    );
  }
}
