/**
 * The web page in a real browser (Debian's Chromium, driven by playwright-core) against the real
 * server over the fixture index. Screenshots of each state go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type FileChooser,
  type Page,
} from 'playwright-core';
import sharp from 'sharp';
import { buildWeb } from '../scripts/build-web.js';
import { projectRoot } from '../src/config.js';
import { type ApiFacets, MAX_UPLOAD_BYTES } from '../src/interfaces/http/api/contract.js';
import { buildApp } from '../src/interfaces/http/app.js';
import { Recommender } from '../src/recommend/recommender.js';
import { queryImage } from './support/datasets.js';
import { fixtureIndex } from './support/fixture-index.js';
import { shopIndex } from './support/shop-catalogue.js';

const CHROMIUM = process.env.LOOKALIKE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = join(projectRoot, 'test-output', 'screenshots');
/** 224x224 photos of indexed products: a T-shirt and a handbag. */
const TSHIRT = queryImage(10410);
const HANDBAG = queryImage(10211);

let webDir: string;
let recommender: Recommender;
let app: FastifyInstance;
let base: string;
let browser: Browser;
/** The photos the server was asked about, as the recommender received them. */
const uploaded: { data: Buffer; label?: string }[] = [];
/** The fashion catalogue's filters, in its schema's order, and their labels on the page. */
const FASHION_FILTERS = ['gender', 'masterCategory', 'subCategory', 'articleType', 'baseColour'];
const FASHION_LABELS = ['Gender', 'Master category', 'Sub category', 'Article type', 'Base colour'];
/** Fashion photos are ready to search once the filters are built from /api/facets. */
const FASHION_READY = 'input[name="gender"][value="Women"]';
/** Results per page on the page. */
const PAGE = 10;

before(
  async () => {
    webDir = await mkdtemp(join(tmpdir(), 'lookalike-web-'));
    await buildWeb({ outDir: webDir });
    await mkdir(SCREENSHOTS, { recursive: true });
    recommender = await Recommender.open((await fixtureIndex()).dir, { eager: true });
    // Every uploaded photo goes through resolve() (POST /api/recommend keeps the resolved query).
    const resolve = recommender.resolve.bind(recommender);
    recommender.resolve = (image) => {
      if (typeof image !== 'string') uploaded.push(image);
      return resolve(image);
    };
    app = await buildApp({ recommender, webDir });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
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
/** Script errors and console errors other than failed requests (4xx answers are expected in some tests). */
let problems: string[] = [];

/**
 * Opens the page in a new context and waits for its filters. `prepare` runs before the page loads
 * (listeners and init scripts that must be in place from the start).
 */
async function open(
  options: BrowserContextOptions = { viewport: { width: 1280, height: 900 } },
  url = base,
  ready = FASHION_READY,
  prepare?: (page: Page) => unknown,
): Promise<Page> {
  context = await browser.newContext(options);
  const page = await context.newPage();
  await prepare?.(page);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  await page.goto(url);
  // The filter dropdowns are built from /api/facets.
  await page.locator(ready).waitFor({ state: 'attached' });
  return page;
}

beforeEach(() => {
  problems = [];
});

afterEach(async () => {
  await context?.close();
  context = undefined;
  assert.deepEqual(problems, [], 'no script or console errors');
});

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** Ticks (or unticks) a filter value: opens its facet's list, then clicks the checkbox's label. */
async function tick(page: Page, column: string, value: string, on = true): Promise<void> {
  const facet = page.locator(`details.facet[data-column="${column}"]`);
  if (!(await facet.evaluate((d) => (d as HTMLDetailsElement).open))) await facet.locator('summary').click();
  const box = facet.locator(`input[value="${value}"]`);
  if ((await box.isChecked()) !== on) await box.click();
}

/** Waits for a finished search whose note contains `note`; returns the cards' texts. */
async function results(
  page: Page,
  note: string | RegExp,
): Promise<{ names: string[]; categories: string[] }> {
  await page.locator('#results-note', { hasText: note }).waitFor();
  await page.locator('#results[aria-busy="false"]').waitFor({ state: 'attached' });
  return {
    names: await page.locator('.card-name').allTextContents(),
    categories: await page.locator('.card-category').allTextContents(),
  };
}

/** Records in `window.scrolling` whether the page is scrolling: true from a scroll event to its scrollend. */
const TRACK_SCROLLING = `(() => {
  window.scrolling = false;
  addEventListener('scroll', () => { window.scrolling = true; }, { capture: true, passive: true });
  addEventListener('scrollend', () => { window.scrolling = false; }, { capture: true });
})()`;

/** Waits until the crop box has this size again (it is restored once a resize settles); fails if it does not. */
async function cropBoxComesBackTo(page: Page, size: { width: number; height: number }): Promise<void> {
  await page
    .waitForFunction(
      ({ width, height }) => {
        const box = document.querySelector('.cropper-crop-box')?.getBoundingClientRect();
        return box !== undefined && Math.abs(box.width - width) < 3 && Math.abs(box.height - height) < 3;
      },
      size,
      { timeout: 10_000 },
    )
    .catch(async () => {
      const now = await page.locator('.cropper-crop-box').boundingBox();
      assert.fail(`the crop box is ${now?.width}x${now?.height}, not ${size.width}x${size.height} as drawn`);
    });
}

async function allCardImagesLoaded(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>('.card img')].every(
      (i) => i.complete && i.naturalWidth > 0,
    ),
  );
}

describe('the web page', { timeout: 600_000 }, () => {
  test('a photo from the file picker gives a page of results with image, name, category, colour and match strength', async () => {
    const page = await open();
    await shot(page, '01-start');
    // Hold the answer back to see the loading state.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/api/recommend*', async (route) => {
      await held;
      await route.continue();
    });
    await page.setInputFiles('#file-input', TSHIRT);
    await page.locator('#results[aria-busy="true"]').waitFor({ state: 'attached' });
    await page.locator('#spinner').waitFor();
    await shot(page, '02-loading');
    release();
    const { names, categories } = await results(page, 'Most similar to your photo');
    assert.equal(names.length, PAGE);
    assert.ok(names.every((n) => n.length > 0));
    assert.ok(
      categories.every((c) => / · /.test(c)),
      categories.join(' | '),
    );
    assert.equal(await page.locator('.card-colour').count(), PAGE);
    // Words for the match's strength, not a raw percentage.
    const labels = await page.locator('.card-match').allTextContents();
    assert.equal(labels.length, PAGE);
    const known = ['Probably the same product', 'Strong match', 'Similar', 'Weak match'];
    const order = new Map(known.map((l, i) => [l, i]));
    assert.ok(
      labels.every((l) => order.has(l)),
      labels.join(' | '),
    );
    const ranks = labels.map((l) => order.get(l) ?? 0);
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => a - b),
      'strongest first',
    );
    assert.doesNotMatch((await page.locator('#result-list').textContent()) ?? '', /%/);
    await allCardImagesLoaded(page);
    // The photo is shown, and the live region announced the results.
    assert.equal(await page.locator('#preview-image').isVisible(), true);
    await page.locator('#live', { hasText: `${PAGE} lookalikes found` }).waitFor({ state: 'attached' });
    await shot(page, '02-results');
    assert.equal(await page.locator('#spinner').isVisible(), false);
  });

  test('a filter re-runs the search and every result matches it', async () => {
    const page = await open();
    await page.setInputFiles('#file-input', HANDBAG);
    await results(page, 'Most similar to your photo');
    await tick(page, 'gender', 'Women');
    const women = await results(page, 'filtered: Women');
    assert.equal(women.categories.length, PAGE);
    // The kind of product first, then the other facets but the colour.
    for (const c of women.categories) assert.match(c, /^[^·]+ · Women( · |$)/);

    await tick(page, 'articleType', 'Handbags');
    const handbags = await results(page, 'filtered: Women, Handbags');
    assert.ok(handbags.categories.length > 0);
    for (const c of handbags.categories) assert.equal(c, 'Handbags · Women · Accessories · Bags');
    await allCardImagesLoaded(page);
    await shot(page, '03-filtered');

    // Clearing the filters searches again without them.
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.locator('#results-note', { hasText: /^Most similar to your photo$/ }).waitFor();
  });

  test("the filters are the catalogue's facets, built from /api/facets in its order", async () => {
    // The page itself has no dropdowns.
    assert.doesNotMatch(await (await fetch(base)).text(), /<select/);
    const facets = (await (await fetch(`${base}api/facets`)).json()) as ApiFacets;
    assert.deepEqual(
      facets.facets.map((f) => f.column),
      FASHION_FILTERS,
    );
    const page = await open();
    const controls = await page.locator('#filters details.facet').evaluateAll((facets) =>
      facets.map((d) => ({
        name: (d as HTMLElement).dataset.column ?? '',
        label: d.querySelector('.facet-name')?.textContent ?? '',
        options: [...d.querySelectorAll('input[type="checkbox"]')].map((i) => (i as HTMLInputElement).value),
      })),
    );
    assert.deepEqual(
      controls.map((c) => c.name),
      FASHION_FILTERS,
    );
    assert.deepEqual(
      controls.map((c) => c.label),
      FASHION_LABELS,
    );
    for (const facet of facets.facets) {
      const values = facet.values.map((v) => v.value).sort((a, b) => a.localeCompare(b));
      const shown = controls.find((c) => c.name === facet.column)?.options ?? [];
      // Every value once; grouped facets are alphabetical within each group.
      assert.deepEqual(
        [...shown].sort((a, b) => a.localeCompare(b)),
        values,
        facet.column,
      );
      if (!facet.groups) assert.deepEqual(shown, values, `${facet.column}: its values alphabetically`);
    }
    // Each list is labelled for assistive technology.
    assert.equal(await page.getByRole('group', { name: 'Base colour', includeHidden: true }).count(), 1);
    // Any of them filters: one that used to be API-only.
    await page.setInputFiles('#file-input', TSHIRT);
    await results(page, 'Most similar to your photo');
    await tick(page, 'masterCategory', 'Footwear');
    const shoes = await results(page, 'filtered: Footwear');
    assert.ok(shoes.categories.length > 0);
    for (const c of shoes.categories) assert.match(c, / · Footwear( · |$)/);
    await shot(page, '13-filters-from-facets');
  });

  test('a catalogue of another layout: its facets are the filters, and the cards show them', async () => {
    const other = await shopIndex();
    const otherRecommender = await Recommender.open(other.index, { eager: true });
    const otherApp = await buildApp({ recommender: otherRecommender, webDir });
    try {
      await otherApp.listen({ host: '127.0.0.1', port: 0 });
      const url = `http://127.0.0.1:${(otherApp.server.address() as { port: number }).port}/`;
      const page = await open(undefined, url, 'input[name="category"][value="Bag"]');
      const names = await page
        .locator('#filters details.facet')
        .evaluateAll((s) => s.map((x) => (x as HTMLElement).dataset.column));
      assert.deepEqual(names, ['brand', 'colour', 'category']);
      assert.equal(await page.getByRole('group', { name: 'Category', includeHidden: true }).count(), 1);
      assert.equal(await page.locator('input[name="gender"]').count(), 0);

      await page.setInputFiles('#file-input', HANDBAG);
      await results(page, 'Most similar to your photo');
      await tick(page, 'category', 'Bag');
      const bags = await results(page, 'filtered: Bag');
      assert.ok(bags.names.length > 0);
      const byTitle = new Map(other.rows.map((r) => [r.title, r]));
      const colours = await page.locator('.card-colour').allTextContents();
      assert.equal(colours.length, bags.names.length, 'a colour swatch on every card');
      bags.names.forEach((name, i) => {
        const row = byTitle.get(name);
        assert.ok(row, `${name} is a title of the catalogue`);
        // The kind first, then the other facets; the colour has its own line.
        assert.equal(bags.categories[i], `Bag · ${row.brand}`);
        assert.equal(colours[i], row.colour);
      });
      const swatch = await page
        .locator('.card-colour .swatch')
        .first()
        .evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.notEqual(swatch, 'rgba(0, 0, 0, 0)', 'the swatch is coloured');
      await allCardImagesLoaded(page);
      await shot(page, '14-other-catalogue');
    } finally {
      await otherApp.close();
      await otherRecommender.close();
    }
  });

  test('"More like this" shows that product as the query and its lookalikes', async () => {
    const page = await open();
    await page.setInputFiles('#file-input', TSHIRT);
    const first = await results(page, 'Most similar to your photo');
    const chosen = first.names[1] as string;
    await page
      .locator('.card')
      .nth(1)
      .getByRole('button', { name: /More like this/ })
      .click();
    const more = await results(page, `Most similar to ${chosen}`);
    assert.equal(more.names.length, PAGE);
    assert.equal(await page.locator('#preview-caption').textContent(), `More like: ${chosen}`);
    assert.match((await page.locator('#preview-image').getAttribute('src')) ?? '', /^\/images\/\d+$/);
    assert.equal(await page.locator('#preview-image').getAttribute('alt'), chosen);
    await allCardImagesLoaded(page);
    await shot(page, '04-more-like-this');
  });

  test('drag and drop, and paste from the clipboard', async () => {
    const page = await open();
    // A catalogue photo, fetched by the page itself and dropped as a file: recognised and left out.
    await page.evaluate(async () => {
      const blob = await (await fetch('/images/10410')).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], 'dropped.jpg', { type: 'image/jpeg' }));
      const zone = document.getElementById('dropzone') as HTMLElement;
      zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: data, bubbles: true }));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    const dropped = await results(page, 'Your photo is catalogue product 10410, so it is left out');
    assert.equal(dropped.names.length, PAGE);
    assert.equal(await page.locator('#preview-caption').textContent(), 'dropped.jpg');
    await shot(page, '07-dropped-catalogue-photo');

    await page.evaluate(async () => {
      const blob = await (await fetch('/images/10211')).blob();
      const data = new DataTransfer();
      data.items.add(new File([blob], 'image.png', { type: blob.type }));
      document.dispatchEvent(
        new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
      );
    });
    await results(page, 'Your photo is catalogue product 10211, so it is left out');
    assert.equal(await page.locator('#preview-caption').textContent(), 'image.png');
  });

  test('crop: a box drawn on the photo is searched on its own', async () => {
    const page = await open();
    await page.setInputFiles('#file-input', HANDBAG);
    await results(page, 'Most similar to your photo');
    await page.getByRole('button', { name: 'Crop' }).click();
    assert.equal(await page.getByRole('button', { name: 'Crop' }).getAttribute('aria-pressed'), 'true');
    const handle = page.locator('.cropper-point.point-se');
    await handle.waitFor();
    const before = await page.locator('.cropper-crop-box').boundingBox();
    const point = await handle.boundingBox();
    assert.ok(before && point);
    // Drag the bottom-right corner of the box up and to the left.
    await page.mouse.move(point.x + point.width / 2, point.y + point.height / 2);
    await page.mouse.down();
    await page.mouse.move(point.x - 40, point.y - 50, { steps: 8 });
    await page.mouse.up();
    const after = await page.locator('.cropper-crop-box').boundingBox();
    assert.ok(after && after.width < before.width - 20 && after.height < before.height - 20);
    await shot(page, '05-crop-box');
    // The box survives the resizes of a full-page screenshot (as it would a phone's rotation): the
    // screenshot shrinks the window and grows it back, which scales the box; the page puts the drawn
    // box back once the resizes settle.
    await cropBoxComesBackTo(page, after);

    await page.getByRole('button', { name: 'Search selection' }).click();
    const cropped = await results(page, 'Most similar to your selection');
    assert.equal(cropped.names.length, PAGE);
    // The server got the selection only: a JPEG smaller than the 224x224 photo.
    const selection = uploaded.at(-1);
    assert.equal(selection?.label, 'selection.jpg');
    const meta = await sharp(selection?.data).metadata();
    assert.equal(meta.format, 'jpeg');
    const [w, h] = [meta.width ?? 0, meta.height ?? 0];
    assert.ok(w > 60 && w < 200 && h > 60 && h < 200, `the selection is ${w}x${h}`);
    await allCardImagesLoaded(page);
    await shot(page, '06-crop-results');

    // Turning cropping off searches the whole photo again.
    await page.getByRole('button', { name: 'Crop' }).click();
    await results(page, /^Most similar to your photo$/);
    assert.equal(await page.locator('.cropper-container').count(), 0);
  });

  test('files that are not photos, or too large, get a clear message', async () => {
    const page = await open();
    const message = page.locator('#message');

    // Refused in the page: its type says it is not an image.
    await page.setInputFiles('#file-input', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from('shopping list'),
    });
    await message.filter({ hasText: '“notes.txt” is not an image' }).waitFor();

    // Named like a photo, but the server reads the content.
    await page.setInputFiles('#file-input', {
      name: 'holiday.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('this is not really a JPEG'),
    });
    await message.filter({ hasText: '“holiday.jpg” is not an image we can read' }).waitFor();
    assert.equal(await message.getAttribute('role'), 'alert');
    assert.equal(await page.locator('.card').count(), 0);
    // The page is back to asking for a photo.
    assert.equal(await page.locator('#preview').isVisible(), false);
    assert.equal(await page.locator('#crop').isDisabled(), true);
    await shot(page, '08-not-an-image');

    // A damaged photo.
    const photo = await readFile(TSHIRT);
    await page.setInputFiles('#file-input', {
      name: 'damaged.jpg',
      mimeType: 'image/jpeg',
      buffer: photo.subarray(0, photo.length / 2),
    });
    await message.filter({ hasText: 'seems damaged or incomplete' }).waitFor();

    // Too large: refused before uploading.
    let uploads = 0;
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/recommend') uploads += 1;
    });
    const huge = join(webDir, 'huge.jpg');
    await writeFile(huge, '');
    await truncate(huge, MAX_UPLOAD_BYTES + 1024 * 1024); // sparse: nothing big is written
    await page.setInputFiles('#file-input', huge);
    await message.filter({ hasText: '“huge.jpg” is 21.0 MB, more than the 20 MB limit' }).waitFor();
    assert.equal(uploads, 0);
  });

  test('on a phone-sized screen (375x812) the page fits and works', async () => {
    const page = await open(
      {
        viewport: { width: 375, height: 812 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
      },
      base,
      FASHION_READY,
      (p) => p.addInitScript(TRACK_SCROLLING),
    );
    // The camera button is there on a phone.
    assert.equal(await page.locator('#camera').isVisible(), true);
    assert.equal(await page.locator('#camera-input').getAttribute('capture'), 'environment');
    await page.screenshot({ path: join(SCREENSHOTS, '09-phone-start.png') });
    await page.setInputFiles('#camera-input', TSHIRT);
    const { names } = await results(page, 'Most similar to your photo');
    assert.equal(names.length, PAGE);
    // The results, below the photo and filters, are scrolled into view: wait for the smooth scroll
    // to end (positions measured during it would be of moving cards).
    await page.waitForFunction(() => {
      const top = document.getElementById('results')?.getBoundingClientRect().top ?? -1;
      return top >= 0 && top < 24 && !(window as unknown as { scrolling: boolean }).scrolling;
    });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
    // Two cards per row.
    const boxes = await Promise.all([0, 1, 2].map((i) => page.locator('.card').nth(i).boundingBox()));
    assert.ok(boxes[0] && boxes[1] && boxes[2]);
    assert.equal(Math.round(boxes[0].y), Math.round(boxes[1].y));
    assert.ok(boxes[2].y > boxes[0].y);
    assert.ok(boxes[0].width > 120, `cards are ${boxes[0].width}px wide`);
    // Full-page screenshots drop the touch emulation: take the screen as a phone shows it.
    await page.screenshot({ path: join(SCREENSHOTS, '10-phone-results.png') });
    await page.locator('.card').nth(4).scrollIntoViewIfNeeded();
    await allCardImagesLoaded(page);
    await page.screenshot({ path: join(SCREENSHOTS, '11-phone-results-end.png') });
  });

  test('keyboard only: the drop zone opens the picker, and results are reachable by Tab', async () => {
    // A listener for the whole test, added before the page loads: file-chooser interception is on
    // from the start and stays on (each chooser is then awaited with waitForEvent).
    const page = await open(undefined, base, FASHION_READY, (p) => {
      p.on('filechooser', () => undefined);
    });
    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement;
        return { id: el?.id ?? '', classes: el?.className ?? '', text: el?.textContent?.trim() ?? '' };
      });
    await page.keyboard.press('Tab');
    assert.equal((await focused()).text, 'Skip to results');
    await page.keyboard.press('Tab');
    assert.equal((await focused()).id, 'dropzone');
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    assert.equal(outline, 'solid', 'focus is visible');

    /** Presses a key and returns the file chooser it opened (fails if none opens). */
    const chooserFrom = async (key: string): Promise<FileChooser> => {
      const chooser = page.waitForEvent('filechooser', { timeout: 10_000 });
      await page.keyboard.press(key);
      return chooser;
    };
    await (await chooserFrom('Enter')).setFiles(TSHIRT);
    const { names } = await results(page, 'Most similar to your photo');

    // Space opens it too.
    await page.locator('#dropzone').focus();
    await (await chooserFrom(' ')).setFiles([]);

    let steps = 0;
    while (!(await focused()).classes.includes('card-more') && steps < 80) {
      await page.keyboard.press('Tab');
      steps += 1;
    }
    const button = await focused();
    assert.ok(button.classes.includes('card-more'), `reached ${JSON.stringify(button)} after ${steps} Tabs`);
    // The button says what it does; its card (an article named by the product) says which product.
    assert.equal(button.text, 'More like this');
    assert.equal(
      await page.evaluate(() => {
        const article = document.activeElement?.closest('article');
        const id = article?.getAttribute('aria-labelledby') ?? '';
        return document.getElementById(id)?.textContent;
      }),
      names[0],
    );
    await shot(page, '12-keyboard-focus');
    await page.keyboard.press('Enter');
    await results(page, `Most similar to ${names[0]}`);
    // Focus moved to the results rather than being lost with the old cards.
    assert.equal((await focused()).id, 'results');
    await page.keyboard.press('Tab');
    assert.ok(
      await page.evaluate(() => document.getElementById('results')?.contains(document.activeElement)),
      'the next Tab stays in the results',
    );
  });
});
