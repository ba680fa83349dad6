/** Worker thread of integrity.ts: checks one vectors file and replies once. */
import { parentPort, workerData } from 'node:worker_threads';
import { checkVectorsFile, type FileCheck } from './integrity.js';

const { path, ...check } = workerData as { path: string } & FileCheck;
try {
  parentPort?.postMessage({ result: checkVectorsFile(path, check) });
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message });
}
