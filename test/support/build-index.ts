/** Runs the real indexing pipeline into an index folder, as the tests need it. */
import type { EmbedderOptions } from '../../src/embeddings/embedder.js';
import type { FolderSinkOptions } from '../../src/index/folder-sink.js';
import { openWriter } from '../../src/index/location/open.js';
import { type IndexingResult, runIndexing } from '../../src/index/pipeline.js';

export interface TestBuild extends FolderSinkOptions {
  imagesDir: string;
  outDir: string;
  metadataPath?: string;
  ids?: ReadonlySet<string>;
  embedder?: EmbedderOptions;
}

export function buildIndex(options: TestBuild): Promise<IndexingResult> {
  const { imagesDir, outDir, metadataPath, ids, embedder, ...writer } = options;
  return runIndexing({
    sink: openWriter(outDir, writer),
    source: { imagesDir, metadataPath, ids },
    embedder,
  });
}
