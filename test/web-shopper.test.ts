/**
 * The web page as a shopper on a phone (390x844) and at a desk (1280x900) uses it (issue 12), in
 * Debian's Chromium driven by playwright-core, against the real server over the fixture index:
 * progress and errors in view, photos scaled down before upload, touch and keyboard cropping, the
 * search in the address (reload, back/forward, shared links, expiry), kind chips and grouped,
 * counted filters, paging, the detail view, several garments, match strength, background
 * indexing, and axe-core in every state. Screenshots go to test-output/screenshots/ (s12-*.png).
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { buildWeb } from '../scripts/build-web.js';
import { cacheDir, projectRoot } from '../src/config.js';
import { IndexingTracker } from '../src/index/indexing-progress.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { Recommender } from '../src/recommend/recommender.js';
import { deriveSimilarity } from '../src/similarity/derive.js';
import { buildIndex } from './support/build-index.js';
import { catalogueImage, catalogueImages, queryImage, stylesCsv } from './support/datasets.js';
import { fixtureIndex, subsetIds } from './support/fixture-index.js';

const CHROMIUM = process.env.LOOKALIKE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = join(projectRoot, 'test-output', 'screenshots');
const AXE = join(projectRoot, 'node_modules', 'axe-core', 'axe.min.js');
/** 224x224 photos of indexed products: a T-shirt and a handbag. */
const TSHIRT = queryImage(10410);
const HANDBAG = queryImage(10211);
const PAGE = 10;
const READY = 'input[name="gender"][value="Women"]';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 900 } };
const SIZES = [
  ['phone', PHONE],
  ['desktop', DESKTOP],
] as const;

let webDir: string;
let recommender: Recommender;
let app: FastifyInstance;
let base: string;
let browser: Browser;
/** Background indexing as /api/health reports it: a real tracker, moved on by the test (undefined: none). */
let tracker: IndexingTracker | undefined;
let clock = 0;
/** The photos the server was asked about, as the recommender received them. */
const uploaded: { data: Buffer; label?: string }[] = [];

before(
  async () => {
    webDir = await mkdtemp(join(tmpdir(), 'lookalike-web12-'));
    await buildWeb({ outDir: webDir });
    await mkdir(SCREENSHOTS, { recursive: true });
    recommender = await Recommender.open((await fixtureIndex()).dir, { eager: true });
    // Every uploaded photo goes through resolve() (POST /api/recommend keeps the resolved query).
    const resolve = recommender.resolve.bind(recommender);
    recommender.resolve = (image) => {
      if (typeof image !== 'string') uploaded.push(image);
      return resolve(image);
    };
    app = await buildApp({ recommender, webDir, indexing: () => tracker?.snapshot() });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
  },
  { timeout: 600_000 },
);

after(async () => {
  await browser?.close();
  await app?.close();
  await recommender?.close();
  if (webDir) await rm(webDir, { recursive: true, force: true });
});

let context: BrowserContext | undefined;
let problems: string[] = [];

async function open(options: object = DESKTOP, url = base): Promise<Page> {
  context = await browser.newContext(options);
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  await page.goto(url);
  await page.locator(READY).waitFor({ state: 'attached' });
  return page;
}

beforeEach(() => {
  problems = [];
  tracker = undefined;
});

afterEach(async () => {
  await context?.close();
  context = undefined;
  assert.deepEqual(problems, [], 'no script or console errors');
});

/** Phone screenshots show the screen as the phone does; desktop ones the whole page. */
const shot = (page: Page, name: string, fullPage = true) =>
  page.screenshot({ path: join(SCREENSHOTS, `s12-${name}.png`), fullPage });

/** Waits for a finished search whose note contains `note`; returns the cards' names. */
async function results(page: Page, note: string | RegExp): Promise<string[]> {
  await page.locator('#results-note', { hasText: note }).waitFor();
  await page.locator('#results[aria-busy="false"]').waitFor({ state: 'attached' });
  return page.locator('.card-name').allTextContents();
}

/** axe-core in the page: no violations of any rule. */
async function noAxeViolations(page: Page, state: string): Promise<void> {
  // Evaluated rather than added as a <script> tag, which the page's Content Security Policy refuses.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(await readFile(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (c: Document, o: object) => Promise<AxeResult> } }).axe;
    interface AxeResult {
      violations: { id: string; help: string; nodes: { target: string[] }[] }[];
    }
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map(
      (v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  });
  assert.deepEqual(violations, [], `axe-core in state "${state}"`);
}

/** Whether an element is wholly within the screen. */
async function inViewport(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).evaluate((el) => {
    const r = el.getBoundingClientRect();
    return (
      r.width > 0 &&
      r.top >= 0 &&
      r.bottom <= window.innerHeight &&
      r.left >= 0 &&
      r.right <= window.innerWidth
    );
  });
}

const searchParams = (page: Page) => new URL(page.url()).searchParams;

async function tick(page: Page, column: string, value: string, on = true): Promise<void> {
  const facet = page.locator(`details.facet[data-column="${column}"]`);
  if (!(await facet.evaluate((d) => (d as HTMLDetailsElement).open))) await facet.locator('summary').click();
  const box = facet.locator(`input[value="${value}"]`);
  if ((await box.isChecked()) !== on) await box.click();
}

/** Drags by touch (Chromium's touch events, as a finger does) from one point to another. */
async function touchDrag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [from] });
  for (let i = 1; i <= 8; i += 1) {
    const x = from.x + ((to.x - from.x) * i) / 8;
    const y = from.y + ((to.y - from.y) * i) / 8;
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x, y }] });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await cdp.detach();
}

/** A 12 MP phone photo: the T-shirt, stored sideways with EXIF orientation 6 (shown upright, landscape). */
async function phonePhoto(): Promise<Buffer> {
  return sharp(TSHIRT)
    .resize(4000, 3000, { fit: 'fill' })
    .rotate(-90) // stored 3000x4000; orientation 6 turns it back to 4000x3000 when shown
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 92 })
    .toBuffer();
}

/** Noise: nothing in the catalogue looks like it. */
function noise(): Promise<Buffer> {
  const pixels = Buffer.from(Array.from({ length: 200 * 200 * 3 }, (_, i) => (i * 7919) % 256));
  return sharp(pixels, { raw: { width: 200, height: 200, channels: 3 } })
    .jpeg()
    .toBuffer();
}

/** Catalogue product 10410's own photo at twice its size (other bytes, the same product). */
function sameProduct(): Promise<Buffer> {
  return sharp(catalogueImage(10410)).resize(120, 160).jpeg({ quality: 95 }).toBuffer();
}

/** Two items side by side on white: the T-shirt and the handbag. */
async function twoGarments(): Promise<Buffer> {
  const [shirt, bag] = await Promise.all([TSHIRT, HANDBAG].map((p) => sharp(p).resize(300, 300).toBuffer()));
  return sharp({ create: { width: 800, height: 420, channels: 3, background: '#ffffff' } })
    .composite([
      { input: shirt as Buffer, left: 40, top: 60 },
      { input: bag as Buffer, left: 460, top: 60 },
    ])
    .jpeg()
    .toBuffer();
}

describe('the web page for shoppers (issue 12)', { timeout: 900_000 }, () => {
  test('phone: a large photo is scaled down (upright) before upload, progress and errors stay in view', async () => {
    const page = await open(PHONE);
    await noAxeViolations(page, 'empty, phone');
    await shot(page, 'phone-01-empty', false);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/api/recommend*', async (route) => {
      await held;
      await route.continue();
    });
    const before = uploaded.length;
    const big = await phonePhoto();
    // Scrolled down, as a shopper may be when choosing a photo.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.setInputFiles('#file-input', { name: 'IMG_2041.jpg', mimeType: 'image/jpeg', buffer: big });
    await page.locator('#progress-text', { hasText: /Uploading|Searching/ }).waitFor();
    assert.ok(await inViewport(page, '#spinner'), 'the progress is on screen');
    await shot(page, 'phone-02-progress', false);
    release();
    const names = await results(page, 'Most similar to your photo');
    assert.equal(names.length, PAGE);
    assert.equal(await page.locator('#spinner').isVisible(), false);
    // What the server got: a JPEG of at most 1024 px, upright (landscape, as the camera meant).
    const sent = uploaded.slice(before).at(-1);
    assert.ok(sent);
    const meta = await sharp(sent.data).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(Math.max(meta.width ?? 0, meta.height ?? 0), 1024);
    assert.ok((meta.width ?? 0) > (meta.height ?? 0), `upright: ${meta.width}x${meta.height}`);
    assert.ok((meta.orientation ?? 1) === 1, 'no orientation left to apply');
    assert.ok(sent.data.length < big.length / 4, `${sent.data.length} bytes sent for ${big.length}`);
    await shot(page, 'phone-03-results', false);

    // An error, with the page scrolled to the results: on screen too.
    await page
      .locator('.card')
      .nth(PAGE - 1)
      .scrollIntoViewIfNeeded();
    await page.setInputFiles('#file-input', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('x'),
    });
    await page.locator('#message', { hasText: '“notes.txt” is not an image' }).waitFor();
    assert.ok(await inViewport(page, '#message-box'), 'the error is on screen');
    await noAxeViolations(page, 'error, phone');
    await shot(page, 'phone-04-error', false);
    await page.getByRole('button', { name: 'Dismiss' }).tap();
    assert.equal(await page.locator('#message-box').isVisible(), false);
  });

  test('phone: crop by touch works on the first tap and drag', async () => {
    const page = await open(PHONE);
    await page.setInputFiles('#file-input', HANDBAG);
    await results(page, 'Most similar to your photo');
    await page.locator('#crop').scrollIntoViewIfNeeded();
    await page.locator('#crop').tap();
    const handle = page.locator('.cropper-point.point-se');
    await handle.waitFor();
    await page.locator('.cropper-crop-box').scrollIntoViewIfNeeded();
    const start = await page.locator('.cropper-crop-box').boundingBox();
    const point = await handle.boundingBox();
    assert.ok(start && point);
    const from = { x: point.x + point.width / 2, y: point.y + point.height / 2 };
    await touchDrag(page, from, { x: from.x - 50, y: from.y - 60 });
    const after = await page.locator('.cropper-crop-box').boundingBox();
    assert.ok(after);
    assert.ok(
      after.width < start.width - 25 && after.height < start.height - 25,
      `the first drag resized the box: ${start.width}x${start.height} → ${after.width}x${after.height}`,
    );
    await noAxeViolations(page, 'crop, phone');
    await shot(page, 'phone-05-crop', false);
    await page.getByRole('button', { name: 'Search selection' }).tap();
    assert.equal((await results(page, 'Most similar to your selection')).length, PAGE);
    assert.equal(uploaded.at(-1)?.label, 'selection.jpg');
    // Reloaded, it is still the selection's search, with the whole photo shown.
    const selected = await page.locator('.card-name').allTextContents();
    await page.reload();
    assert.deepEqual(await results(page, 'Most similar to your selection'), selected);
    await page.locator('#preview-image[src^="data:image/"]').waitFor();
  });

  for (const [size, options] of SIZES) {
    test(`${size}: the search lives in the address: reload, back/forward, shared link, expiry`, async () => {
      const page = await open(options);
      await page.setInputFiles('#file-input', HANDBAG);
      const first = await results(page, 'Most similar to your photo');
      const q = searchParams(page).get('q');
      assert.ok(q && /^[A-Za-z0-9_-]{8,40}$/.test(q), `query id in the address: ${page.url()}`);

      // A filter and a second page: both in the address.
      await tick(page, 'gender', 'Women');
      const women = await results(page, 'filtered: Women');
      assert.deepEqual(searchParams(page).getAll('gender'), ['Women']);
      await page.getByRole('button', { name: 'Show more' }).click();
      await page.locator('.card').nth(PAGE).waitFor();
      await page.waitForURL(/[?&]n=20/);
      const twenty = await page.locator('.card-name').allTextContents();
      assert.equal(twenty.length, 2 * PAGE);
      assert.deepEqual(twenty.slice(0, PAGE), women);

      // Reload: the same results, filters and page, and the photo.
      await page.reload();
      await page
        .locator('.card')
        .nth(2 * PAGE - 1)
        .waitFor();
      assert.deepEqual(await page.locator('.card-name').allTextContents(), twenty);
      assert.equal(await page.locator('input[name="gender"][value="Women"]').isChecked(), true);
      await page.locator('#preview-image[src^="data:image/"]').waitFor();
      await shot(page, `${size}-url-01-reloaded`, size === 'desktop');

      // Back: the unfiltered results; forward: the filtered ones again.
      await page.goBack();
      await page.waitForURL((url) => !url.searchParams.has('gender'));
      assert.deepEqual(await results(page, /^Most similar to your photo$/), first);
      await page.goForward();
      await results(page, 'filtered: Women');
      assert.equal(await page.locator('input[name="gender"][value="Women"]').isChecked(), true);

      // "More like this" is an address too, and the photo's search is one step back.
      const chosen = (await page.locator('.card-name').nth(1).textContent()) ?? '';
      await page.locator('.card').nth(1).getByRole('button', { name: 'More like this' }).click();
      await results(page, `Most similar to ${chosen}`);
      assert.ok(searchParams(page).get('similar'));
      const similarUrl = page.url();
      await page.goBack();
      await results(page, 'filtered: Women');
      assert.equal(searchParams(page).get('q'), q);
      assert.equal(await page.locator('#preview-image').isVisible(), true);

      // A shared link, opened elsewhere: the same results (without the shopper's photo).
      const shared = page.url();
      const shownThere = await page.locator('.card-name').allTextContents();
      const other = await browser.newContext(options);
      try {
        const there = await other.newPage();
        await there.goto(shared);
        await there
          .locator('.card')
          .nth(shownThere.length - 1)
          .waitFor();
        assert.deepEqual(await there.locator('.card-name').allTextContents(), shownThere);
        await there.goto(similarUrl);
        await results(there, `Most similar to ${chosen}`);
        // An expired (or unknown) search asks for the photo again.
        await there.goto(`${base}?q=expired0000000000`);
        await there.locator('#message', { hasText: 'This search has expired' }).waitFor();
        assert.match((await there.locator('#message').textContent()) ?? '', /upload your photo again/);
        assert.ok(await inViewport(there, '#message-box'));
        await noAxeViolations(there, `error, ${size}`);
        await shot(there, `${size}-url-02-expired`, size === 'desktop');
      } finally {
        await other.close();
      }
    });

    test(`${size}: kind chips refine in one tap; filters are grouped, counted and have no dead ends`, async () => {
      const page = await open(options);
      await page.setInputFiles('#file-input', TSHIRT);
      await results(page, 'Most similar to your photo');
      const chips = page.locator('#kinds .chip');
      await chips.first().waitFor();
      assert.ok((await chips.count()) >= 2, 'at least two kinds to choose from');
      await noAxeViolations(page, `results, ${size}`);
      await shot(page, `${size}-kinds-01-chips`, size === 'desktop');
      const kinds = await chips.evaluateAll((cs) => cs.map((c) => c.textContent ?? ''));
      const [one, two] = kinds.map((k) => k.replace('✓', '').trim());
      assert.ok(one && two);
      // One tap: only that kind.
      const chip = (name: string) => page.locator('#kinds').getByRole('button', { name, exact: true });
      await chip(one).click();
      await results(page, `filtered: ${one}`);
      const ofOne = await page.locator('.card-category').allTextContents();
      assert.ok(ofOne.length > 0);
      for (const c of ofOne) assert.ok(c.startsWith(`${one} ·`), c);
      assert.equal(await chip(one).getAttribute('aria-pressed'), 'true');
      // A second tap on another: either kind.
      await chip(two).click();
      await results(page, `filtered: ${one} or ${two}`);
      const ofTwo = await page.locator('.card-category').allTextContents();
      for (const c of ofTwo) assert.ok(c.startsWith(`${one} ·`) || c.startsWith(`${two} ·`), c);
      assert.ok(ofTwo.some((c) => c.startsWith(`${two} ·`)));
      assert.deepEqual(searchParams(page).getAll('articleType').sort(), [one, two].sort());
      // The filters say the same.
      assert.equal(await page.locator(`input[name="articleType"][value="${one}"]`).isChecked(), true);
      await shot(page, `${size}-kinds-02-two-kinds`, size === 'desktop');

      // The kind filter: grouped, with counts.
      await page.locator('details.facet[data-column="articleType"] summary').click();
      const groups = page.locator('details.facet[data-column="articleType"] .facet-group-name');
      assert.ok((await groups.count()) > 1, 'kinds grouped');
      const count = await page
        .locator('details.facet[data-column="articleType"] .option-count')
        .first()
        .textContent();
      assert.match(count ?? '', /^\(\d[\d,]*\)$/);
      // No dead ends: with a gender chosen, kinds that no product of it has are disabled.
      await tick(page, 'gender', 'Men');
      await results(page, 'filtered: Men');
      if (size === 'phone') {
        // The filters are above the results on a phone: the page stays where the shopper is
        // choosing, and the status bar says what was found, with a way to it.
        await page.locator('#found', { hasText: /lookalikes? found/ }).waitFor();
        assert.ok(await inViewport(page, '#found'));
        await shot(page, 'phone-kinds-03a-found', false);
        await page.getByRole('button', { name: 'See results' }).tap();
        await page.waitForFunction(() => {
          const top = document.getElementById('results')?.getBoundingClientRect().top ?? -1;
          return top >= 0 && top < 40;
        });
        assert.equal(await page.locator('#found').isVisible(), false);
      }
      const counted = (await (await fetch(`${base}api/facets?gender=Men`)).json()) as {
        facets: { column: string; counts?: { value: string; count: number }[] }[];
      };
      const none = counted.facets
        .find((f) => f.column === 'articleType')
        ?.counts?.find((c) => c.count === 0 && c.value !== one && c.value !== two);
      assert.ok(none, 'some kind has no product for men');
      const dead = page.locator(`input[name="articleType"][value="${none.value}"]`);
      await page.waitForFunction(
        (v) =>
          (document.querySelector(`input[name="articleType"][value="${v}"]`) as HTMLInputElement)?.disabled,
        none.value,
      );
      assert.equal(await dead.isDisabled(), true);
      assert.equal(
        await page
          .locator(`label:has(input[name="articleType"][value="${none.value}"]) .option-count`)
          .textContent(),
        '(0)',
      );
      await noAxeViolations(page, `filters, ${size}`);
      await shot(page, `${size}-kinds-03-filters`, size === 'desktop');
    });

    test(`${size}: match strength in words, "show more", and the product detail view`, async () => {
      const page = await open(options);
      // Nothing like it in the catalogue: every match is weak, and the page says so.
      await page.setInputFiles('#file-input', {
        name: 'noise.jpg',
        mimeType: 'image/jpeg',
        buffer: await noise(),
      });
      await results(page, 'Most similar to your photo');
      const weak = await page.locator('.card-match').allTextContents();
      assert.deepEqual(new Set(weak), new Set(['Weak match']));
      assert.match((await page.locator('#strength-note').textContent()) ?? '', /Only weak matches/);
      await shot(page, `${size}-strength-01-weak`, size === 'desktop');
      // A catalogue product's photo at twice its size: a strong match. (This fixture searches with
      // the original similarity, whose scores do not tell the very product: the learned index's
      // test below checks "Probably the same product".)
      await page.setInputFiles('#file-input', {
        name: 'again.jpg',
        mimeType: 'image/jpeg',
        buffer: await sameProduct(),
      });
      await page.locator('#preview-caption', { hasText: 'again.jpg' }).waitFor();
      await results(page, 'Most similar to your photo');
      assert.equal(await page.locator('.card-match').first().textContent(), 'Strong match');
      await shot(page, `${size}-strength-02-strong`, size === 'desktop');
      // Show more: the next page appended, focus on its first card.
      await page.getByRole('button', { name: 'Show more' }).click();
      await page
        .locator('.card')
        .nth(2 * PAGE - 1)
        .waitFor();
      assert.equal(await page.locator('.card').count(), 2 * PAGE);
      const names = await page.locator('.card-name').allTextContents();
      assert.equal(new Set(names).size, names.length, 'no product twice');
      assert.equal(
        await page.evaluate(() => document.activeElement?.classList.contains('card-link')),
        true,
        'focus on the first new card',
      );

      // Detail view: from the 12th card (on the second page).
      const card = page.locator('.card').nth(PAGE + 1);
      const name = (await card.locator('.card-name').textContent()) ?? '';
      await card.locator('.card-link').click();
      await page.locator('#detail-name', { hasText: name }).waitFor();
      const id = searchParams(page).get('product');
      assert.ok(id);
      const product = (await (await fetch(`${base}api/products/${id}`)).json()) as {
        metadata: Record<string, string>;
      };
      const facts = await page.locator('.detail-facts dd').allTextContents();
      for (const value of Object.values(product.metadata).filter((v) => v.trim() !== '')) {
        assert.ok(facts.includes(value), `the detail shows ${value}`);
      }
      await page.waitForFunction(() => {
        const img = document.querySelector<HTMLImageElement>('.detail-photo img');
        return img?.complete && img.naturalWidth > 0;
      });
      const shownWidth = await page
        .locator('.detail-photo img')
        .evaluate((i) => i.getBoundingClientRect().width);
      assert.ok(shownWidth >= 200, `the detail photo is ${shownWidth}px wide`);
      await noAxeViolations(page, `detail, ${size}`);
      await shot(page, `${size}-detail-01`, size === 'desktop');
      // Reload keeps the detail view; back returns to the twenty results.
      await page.reload();
      await page.locator('#detail-name', { hasText: name }).waitFor();
      await page.goBack();
      await page
        .locator('.card')
        .nth(2 * PAGE - 1)
        .waitFor();
      assert.equal(await page.locator('#detail').isVisible(), false);
      // Its own "More like this".
      await page.goForward();
      await page.locator('#detail-name', { hasText: name }).waitFor();
      await page.locator('#detail').getByRole('button', { name: 'More like this' }).click();
      await results(page, `Most similar to ${name}`);
      assert.equal(searchParams(page).get('similar'), id);
    });

    test(`${size}: a photo of two garments offers to search each`, async () => {
      const page = await open(options);
      await page.setInputFiles('#file-input', {
        name: 'two.jpg',
        mimeType: 'image/jpeg',
        buffer: await twoGarments(),
      });
      await results(page, 'Most similar to your photo');
      const boxes = page.locator('#garment-layer .garment-box');
      await boxes.nth(1).waitFor();
      const buttons = page.getByRole('button', { name: /^Search this one/ });
      assert.equal(await buttons.count(), await boxes.count());
      // The boxes lie over the photo, one left, one right.
      const [left, right] = await Promise.all([boxes.nth(0).boundingBox(), boxes.nth(1).boundingBox()]);
      const photo = await page.locator('#preview-image').boundingBox();
      assert.ok(left && right && photo);
      for (const b of [left, right]) {
        assert.ok(b.x >= photo.x - 2 && b.x + b.width <= photo.x + photo.width + 2, 'inside the photo');
      }
      await noAxeViolations(page, `garments, ${size}`);
      await shot(page, `${size}-garments-01`, size === 'desktop');
      const before = uploaded.length;
      await buttons.nth(0).click();
      await results(page, 'Most similar to your selection');
      const sent = uploaded.slice(before).at(-1);
      assert.equal(sent?.label, 'garment-1.jpg');
      const meta = await sharp(sent?.data).metadata();
      assert.ok((meta.width ?? 0) < 800, `only a part of the photo was sent: ${meta.width}x${meta.height}`);
      // The whole photo's search is one step back.
      await page.goBack();
      await results(page, /^Most similar to your photo$/);
    });

    test(`${size}: accessible: h1, drop zone name, keyboard crop, focus ring contrast, names read once`, async () => {
      const page = await open(options);
      await noAxeViolations(page, `empty, ${size}`);
      assert.equal(await page.locator('h1').count(), 1);
      // The drop zone's accessible name (as Chromium computes it) holds its visible text.
      const zone = page.getByRole('button', { name: /^Drop a photo here/ });
      assert.equal(await zone.count(), 1);
      assert.equal(await zone.getAttribute('id'), 'dropzone');
      assert.equal(await page.locator('#dropzone').getAttribute('aria-label'), null);
      await page.setInputFiles('#file-input', HANDBAG);
      await results(page, 'Most similar to your photo');
      // Names read once: card photos have empty alt text, the name is the card's heading.
      const alts = await page
        .locator('.card img')
        .evaluateAll((imgs) => imgs.map((i) => i.getAttribute('alt')));
      assert.ok(alts.every((a) => a === ''));

      // The crop box by keyboard: focus it, arrows move it, Shift + arrows resize it.
      await page.locator('#crop').focus();
      await page.keyboard.press('Enter');
      await page.locator('.cropper-crop-box:focus').waitFor();
      assert.equal(await page.locator('#crop-hint').isVisible(), true);
      assert.match((await page.locator('#crop-hint').textContent()) ?? '', /arrow keys/);
      const at = await page.locator('.cropper-crop-box').boundingBox();
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('ArrowLeft');
      const moved = await page.locator('.cropper-crop-box').boundingBox();
      assert.ok(at && moved && moved.x < at.x && moved.y < at.y, 'moved up and left');
      for (let i = 0; i < 5; i += 1) await page.keyboard.press('Shift+ArrowLeft');
      const resized = await page.locator('.cropper-crop-box').boundingBox();
      assert.ok(resized && resized.width < moved.width - 5, 'narrower');
      // The focus ring: at least 3:1 against what is behind it.
      // (A string: functions defined inside an evaluated function would carry tsx's helpers.)
      const ring = (await page.evaluate(`(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        const rgb = (c) => (c.match(/\\d+(\\.\\d+)?/g) ?? []).slice(0, 3).map(Number);
        const f = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
        const lum = ([r, g, b]) => 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        const ratio = (a, b) => { const [h, l] = [lum(a), lum(b)].sort((x, y) => y - x); return (h + 0.05) / (l + 0.05); };
        return {
          style: style.outlineStyle,
          width: Number.parseFloat(style.outlineWidth),
          onWhite: ratio(rgb(style.outlineColor), [255, 255, 255]),
          onPage: ratio(rgb(style.outlineColor), rgb(getComputedStyle(document.body).backgroundColor)),
        };
      })()`)) as { style: string; width: number; onWhite: number; onPage: number };
      assert.equal(ring.style, 'solid');
      assert.ok(ring.width >= 2);
      assert.ok(ring.onWhite >= 3 && ring.onPage >= 3, JSON.stringify(ring));
      await noAxeViolations(page, `crop by keyboard, ${size}`);
      await shot(page, `${size}-a11y-01-keyboard-crop`, size === 'desktop');
      await page.getByRole('button', { name: 'Search selection' }).click();
      await results(page, 'Most similar to your selection');
      await noAxeViolations(page, `selection results, ${size}`);
    });
  }

  test("with the learned similarity, the photo's predicted kind is the first chip", async () => {
    // A small real index with a learned similarity (built once, then reused), copied.
    const source = join(cacheDir, 'test-indexes', 'web-learned');
    await buildIndex({
      imagesDir: catalogueImages,
      outDir: source,
      metadataPath: stylesCsv,
      ids: subsetIds(600),
      derive: deriveSimilarity({ kind: 'learned', epochs: 8 }),
    });
    const dir = await mkdtemp(join(tmpdir(), 'lookalike-web12-learned-'));
    await cp(source, dir, { recursive: true });
    const learned = await Recommender.open(dir, { eager: true });
    const learnedApp = await buildApp({ recommender: learned, webDir });
    try {
      await learnedApp.listen({ host: '127.0.0.1', port: 0 });
      const page = await open(
        PHONE,
        `http://127.0.0.1:${(learnedApp.server.address() as { port: number }).port}/`,
      );
      const answer = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/recommend');
      await page.setInputFiles('#file-input', TSHIRT);
      const body = (await (await answer).json()) as {
        query: { predicted?: { column: string; value: string; probability: number }[] };
      };
      await results(page, 'Most similar to your photo');
      const predicted = body.query.predicted?.find((p) => p.column === 'articleType');
      assert.ok(predicted, 'the learned similarity predicts the kind');
      const chips = await page.locator('#kinds .chip').allTextContents();
      assert.equal(chips[0], predicted.value);
      await shot(page, 'phone-kinds-04-predicted', false);
      // Another photo of a product (fashion-224): the cards say the strength the server measured,
      // and a probable same product is marked as such.
      const id = [...subsetIds(600)][0] as string;
      const again = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/recommend');
      await page.setInputFiles('#file-input', {
        name: 'again.jpg',
        mimeType: 'image/jpeg',
        buffer: await readFile(queryImage(id)),
      });
      const top = (
        (await (await again).json()) as { results: { match: { strength: string; label: string } }[] }
      ).results[0];
      await page.locator('#preview-caption', { hasText: 'again.jpg' }).waitFor();
      await results(page, 'Most similar to your photo');
      assert.ok(top && top.match.strength !== 'weak', `a strong match for another photo of ${id}`);
      assert.equal(await page.locator('.card-match').first().textContent(), top.match.label);
      const note = (await page.locator('#strength-note').textContent()) ?? '';
      if (top.match.strength === 'same-product') assert.match(note, /probably the very product/);
      await noAxeViolations(page, 'strength, phone');
      await shot(page, 'phone-strength-03-learned', false);
    } finally {
      await learnedApp.close();
      await learned.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('background indexing: a progress line polled from /api/health; searches work meanwhile', async () => {
    clock = 0;
    tracker = new IndexingTracker(() => clock);
    tracker.photos(0, 44_441);
    const page = await open(PHONE);
    const line = page.locator('#indexing');
    await line.filter({ hasText: 'Indexing the catalogue: 0 of 44,441 photos' }).waitFor();
    // No rate nor ETA before they can be estimated.
    assert.doesNotMatch((await line.textContent()) ?? '', /\/s|left/);
    clock = 300_000;
    tracker.published(12_000);
    tracker.photos(12_345, 44_441);
    await line.filter({ hasText: '12,345 of 44,441 photos' }).waitFor({ timeout: 15_000 });
    const text = (await line.textContent()) ?? '';
    assert.match(text, /· \d+\/s · about \d+ min left/);
    assert.doesNotMatch(text, /60s|\dm\d/);
    await noAxeViolations(page, 'indexing, phone');
    await shot(page, 'phone-indexing', false);
    await page.setInputFiles('#file-input', TSHIRT);
    assert.equal((await results(page, 'Most similar to your photo')).length, PAGE);
    tracker.done(44_441);
    await line.waitFor({ state: 'hidden', timeout: 15_000 });
  });
});
