import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ETA_MIN_SECONDS, EtaEstimator, formatDuration } from '../src/interfaces/cli/progress.js';

describe('progress ETA', () => {
  test('durations round to the second first: never "2m60s"', () => {
    assert.equal(formatDuration(179.6), '3m00s');
    assert.equal(formatDuration(179.4), '2m59s');
    assert.equal(formatDuration(59.5), '1m00s');
    assert.equal(formatDuration(42.2), '42s');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(3599.7), '1h00m');
    assert.equal(formatDuration(3 * 3600 + 59 * 60 + 40), '4h00m');
    for (let s = 0; s < 4 * 3600; s += 0.37) {
      assert.doesNotMatch(formatDuration(s), /(^|[hm])60[sm]$/, `${s}`);
    }
  });

  test('no ETA until a rate can be measured; then from the recent rate, counted from the first sample', () => {
    const eta = new EtaEstimator();
    assert.equal(eta.eta(100), undefined, 'nothing measured');
    eta.add(0, 40); // a resumed run: 40 were done before
    assert.equal(eta.eta(100), undefined);
    eta.add(1, 41);
    assert.equal(eta.eta(100), undefined, 'too soon');
    eta.add(ETA_MIN_SECONDS, 40);
    assert.equal(eta.eta(100), undefined, 'no progress: no rate');
    eta.add(10, 60);
    // 20 units in 10 s: 2/s, 40 left: 20 s (not 60 units in 10 s).
    assert.equal(eta.rate(), 2);
    assert.equal(eta.eta(100), 20);
    // The rate follows the recent past: a slower stretch lengthens the ETA.
    for (let t = 11; t <= 100; t++) eta.add(t, 60 + (t - 10) * 0.1);
    const rate = eta.rate() as number;
    assert.ok(rate > 0.09 && rate < 0.2, `${rate}`);
  });

  test('the bar on stderr: no rate or ETA at first, then both', async () => {
    const module = join(import.meta.dirname, '..', 'src', 'interfaces', 'cli', 'progress.ts');
    const script = `
      const { progressBar } = await import(${JSON.stringify(module)});
      const bar = progressBar('photos');
      bar.update(0, 100);
      await new Promise((r) => setTimeout(r, 200));
      bar.update(5, 100);
      await new Promise((r) => setTimeout(r, ${(ETA_MIN_SECONDS + 0.3) * 1000}));
      bar.update(50, 100);
      bar.stop();`;
    const { stderr } = await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ]);
    const lines = stderr.split('\n').filter((l) => l.includes('/100 photos'));
    assert.equal(lines.length, 2, stderr);
    assert.match(lines[0] as string, /0\/100 photos\s*$/, 'nothing to estimate from yet');
    assert.match(lines[1] as string, /50\/100 photos \| 1\d\.\d photos\/s \| ETA [2-4]s\s*$/);
  });
});
