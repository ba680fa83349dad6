/**
 * The Lookalike page: a photo in (picker, camera, drop, paste), scaled down in the browser,
 * optionally cropped to one garment, the most similar catalogue products out, a page at a time,
 * with filters, kind chips, a detail view and "more like this". What is shown lives in the
 * address (see url-state.ts): reload, back/forward and shared links show it again.
 */
import type { ApiProduct } from '../http/api/contract.js';
import {
  ApiFailure,
  type Facets,
  type Filters,
  facets,
  type Garment,
  product,
  type Results,
  recommend,
  rerun,
  similar,
} from './api.js';
import { type CatalogueView, catalogueView, UNKNOWN_CATALOGUE } from './catalogue.js';
import { CropBox } from './cropping.js';
import { renderDetail } from './detail.js';
import { byId } from './dom.js';
import { FilterForm, filterSummary } from './filters.js';
import { GarmentBoxes } from './garments.js';
import { watchIndexing } from './indexing.js';
import { setUpIntake } from './intake.js';
import { disableEmptyChips, likelyKinds, renderKindChips } from './kind-chips.js';
import { checkFile, describeFailure, isUnreadablePhoto } from './messages.js';
import { keepPhoto, storedPhoto } from './photo-store.js';
import { type CardActions, renderResults, strengthNote } from './results.js';
import { cutOut, prepareUpload } from './shrink.js';
import { clearMessage, hideFound, hideProgress, showFound, showMessage, showProgress } from './status.js';
import { readState, type ViewState, writeState } from './url-state.js';

/** Results per page ("Show more" adds as many). */
const PAGE = 10;
/** Most results one request may ask for (the API's k limit). */
const MAX_PER_REQUEST = 50;

const el = {
  dropzone: byId<HTMLButtonElement>('dropzone'),
  choose: byId<HTMLButtonElement>('choose'),
  camera: byId<HTMLButtonElement>('camera'),
  fileInput: byId<HTMLInputElement>('file-input'),
  cameraInput: byId<HTMLInputElement>('camera-input'),
  preview: byId('preview'),
  previewImage: byId<HTMLImageElement>('preview-image'),
  previewCaption: byId('preview-caption'),
  crop: byId<HTMLButtonElement>('crop'),
  searchCrop: byId<HTMLButtonElement>('search-crop'),
  cropHint: byId('crop-hint'),
  filters: byId<HTMLFormElement>('filters'),
  filterFields: byId('filter-fields'),
  results: byId('results'),
  note: byId('results-note'),
  empty: byId('empty'),
  list: byId<HTMLOListElement>('result-list'),
  more: byId<HTMLButtonElement>('show-more'),
  kinds: byId('kinds'),
  strength: byId('strength-note'),
  detail: byId('detail'),
  live: byId('live'),
  indexing: byId('indexing'),
};

const cropBox = new CropBox(el.previewImage, 'crop-hint');
const filterForm = new FilterForm(el.filters, el.filterFields);
const garmentBoxes = new GarmentBoxes(el.previewImage, byId('garment-layer'), byId('garment-list'));

/** The catalogue's facets, once /api/facets has answered. */
let catalogue: CatalogueView = UNKNOWN_CATALOGUE;
let facetColumns: string[] = [];

/** What the address says is shown. */
let state: ViewState = { filters: {} };

/** The photo searched last, in this tab (its bytes: searched again where the server gave no id). */
interface LocalPhoto {
  queryId?: string;
  photo: Blob;
  name: string;
  /** A part of the photo shown (a crop or a suggested garment). */
  selection: boolean;
  /** The whole photo's query id, for a selection. */
  parent?: string;
}
let local: LocalPhoto | undefined;

/** What the results on screen answer (query, filters, count), to skip asking again. */
let shownKey = '';
let shownCount = 0;
let hasMore = false;
let lastResult: Results | undefined;
let inFlight: AbortController | undefined;
let objectUrl: string | undefined;
/** What the preview shows ("q:<id>", "similar:<id>", "local"), to skip redrawing it. */
let previewKey = '';
/** The shopper's photo shown (its bytes, or the data URL it was restored from), and its name. */
let shownPhoto: { photo: Blob | string; name: string } | undefined;

/** Says something through the polite live region (re-announced even when the text repeats). */
function announce(text: string): void {
  el.live.textContent = '';
  setTimeout(() => {
    el.live.textContent = text;
  }, 50);
}

function setBusy(busy: boolean): void {
  el.results.setAttribute('aria-busy', String(busy));
  el.results.classList.toggle('is-busy', busy);
  if (!busy) hideProgress();
}

function setCropping(on: boolean): void {
  if (on) cropBox.enable();
  else cropBox.disable();
  el.crop.setAttribute('aria-pressed', String(on));
  el.searchCrop.hidden = !on;
  el.cropHint.hidden = !on;
  garmentBoxes.setVisible(!on);
}

// --- The query panel: the photo or product searched ----------------------------------------

function showPreview(key: string, src: string, caption: string, alt: string, isProduct: boolean): void {
  if (key === previewKey) return;
  previewKey = key;
  setCropping(false);
  garmentBoxes.clear();
  el.preview.classList.remove('no-preview');
  el.preview.classList.toggle('is-product', isProduct);
  el.previewImage.src = src;
  el.previewImage.alt = alt;
  el.previewCaption.textContent = caption;
  el.preview.hidden = false;
  el.dropzone.classList.add('is-compact');
  el.crop.disabled = isProduct;
}

/** Back to the start: no photo shown. */
function clearPreview(): void {
  shownPhoto = undefined;
  setCropping(false);
  garmentBoxes.clear();
  previewKey = '';
  el.preview.hidden = true;
  el.previewImage.removeAttribute('src');
  el.dropzone.classList.remove('is-compact');
  el.crop.disabled = true;
}

function showLocalPhoto(photo: Blob, name: string): void {
  shownPhoto = { photo, name };
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(photo);
  previewKey = '';
  showPreview(`local:${objectUrl}`, objectUrl, name, `Your photo: ${name}`, false);
}

/** The preview for the state's query: the photo of this tab or session, or the product. */
async function previewFor(s: ViewState): Promise<void> {
  if (s.q) {
    if (local?.queryId === s.q || (local?.selection && local.queryId === s.q)) return;
    if (previewKey === `q:${s.q}`) return;
    const stored = storedPhoto(s.q);
    if (stored) {
      shownPhoto = { photo: stored.dataUrl, name: stored.name };
      showPreview(`q:${s.q}`, stored.dataUrl, stored.name, `Your photo: ${stored.name}`, false);
    } else {
      clearPreview();
      el.previewCaption.textContent = '';
    }
  } else if (s.similar) {
    if (previewKey === `similar:${s.similar}`) return;
    try {
      const p = await product(s.similar);
      const name = p.name ?? `Product ${p.id}`;
      showPreview(`similar:${s.similar}`, p.imageUrl, `More like: ${name}`, name, true);
    } catch {
      // The results say what went wrong.
    }
  } else if (!local) {
    clearPreview();
  }
}

// --- Navigation: the address is the state ---------------------------------------------------

/** Goes to a new state: its address pushed (a step back returns) or replacing the current one. */
function go(next: ViewState, how: 'push' | 'replace'): void {
  state = next;
  const url = `${location.pathname}${writeState(next)}`;
  if (how === 'push') history.pushState({ lookalike: true }, '', url);
  else history.replaceState(history.state, '', url);
  void show();
}

const resultsKey = (s: ViewState) =>
  JSON.stringify([s.q ?? '', s.similar ?? '', s.filters, local && !s.q && !s.similar ? 'local' : '']);

/** Shows what `state` says: the preview, the results (fetched unless already shown), the detail view. */
async function show(): Promise<void> {
  const s = state;
  filterForm.setValues(s.filters);
  void refreshCounts(s.filters);
  // First the preview: the results' note names the product of "more like this".
  await previewFor(s);
  const wanted = Math.min(s.shown ?? PAGE, 200 + MAX_PER_REQUEST);
  const key = resultsKey(s);
  if (s.q || s.similar || local) {
    if (key !== shownKey || shownCount < wanted) await loadResults(s, key, wanted);
  } else {
    resetResults();
  }
  if (s.product) await showDetail(s.product);
  else hideDetail();
}

function resetResults(): void {
  hideFound();
  inFlight?.abort();
  shownKey = '';
  shownCount = 0;
  hasMore = false;
  lastResult = undefined;
  el.list.replaceChildren();
  el.note.textContent = '';
  el.more.hidden = true;
  el.kinds.hidden = true;
  el.strength.hidden = true;
  el.empty.hidden = false;
  el.empty.querySelector('p')?.replaceChildren('Your closest matches will appear here.');
}

// --- Searching --------------------------------------------------------------------------------

/** One page of the state's search. */
async function fetchPage(s: ViewState, offset: number, k: number, signal: AbortSignal): Promise<Results> {
  const page = { k, offset };
  if (s.q) return rerun(s.q, s.filters, page, signal);
  if (s.similar) return similar(s.similar, s.filters, page, signal);
  if (local) return upload(local, s.filters, page, signal);
  throw new Error('nothing to search');
}

/** Uploads a photo with progress in the status bar. */
function upload(
  photo: LocalPhoto,
  filters: Filters,
  page: { k: number; offset: number },
  signal: AbortSignal,
) {
  showProgress('Uploading your photo…', 0);
  return recommend(
    photo.photo,
    photo.name,
    filters,
    page,
    signal,
    // The words in steps of 10% (they are read out by screen readers), the bar smoothly.
    (sent, total) =>
      showProgress(`Uploading your photo… ${Math.floor((sent / total) * 10) * 10}%`, sent / total),
    () => showProgress('Searching the catalogue…'),
  );
}

/** Fetches the state's results: from what is shown when only more are wanted, else from the first. */
async function loadResults(s: ViewState, key: string, wanted: number): Promise<void> {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  const append = key === shownKey && shownCount > 0;
  let offset = append ? shownCount : 0;
  setBusy(true);
  showProgress('Searching the catalogue…');
  clearMessage();
  try {
    const pages: Results[] = [];
    while (offset < wanted) {
      const k = Math.min(MAX_PER_REQUEST, wanted - offset);
      const result = await fetchPage(s, offset, k, controller.signal);
      pages.push(result);
      offset += result.results.length;
      const more = result.page ? result.page.hasMore : result.results.length >= k;
      if (!more || result.results.length === 0 || !result.page) break;
    }
    if (inFlight !== controller) return;
    const first = pages[0];
    if (!first) return;
    const all = pages.flatMap((p) => p.results);
    const last = pages.at(-1) ?? first;
    hasMore = last.page ? last.page.hasMore : false;
    if (!append) lastResult = first;
    renderResults(el.list, all, catalogue, cardActions, append);
    shownKey = key;
    shownCount = append ? shownCount + all.length : all.length;
    renderSummary(s, lastResult ?? first);
    if (append) {
      const firstNew = el.list.children[shownCount - all.length]?.querySelector<HTMLElement>('.card-link');
      firstNew?.focus();
      announce(`${all.length} more shown, ${shownCount} in all.`);
    } else if (!s.product) {
      revealResults();
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    failed(s, err);
  } finally {
    if (inFlight === controller) {
      inFlight = undefined;
      setBusy(false);
    }
  }
}

/** Shows a failed search; `photoName`: the new photo that was being uploaded, if it was one. */
function failed(s: ViewState, err: unknown, photoName?: string): void {
  el.list.replaceChildren();
  el.note.textContent = '';
  el.empty.hidden = true;
  el.more.hidden = true;
  el.kinds.hidden = true;
  el.strength.hidden = true;
  shownKey = '';
  shownCount = 0;
  if (err instanceof ApiFailure && (err.code === 'query-expired' || (s.q && err.status === 404))) {
    showMessage(
      'This search has expired: searches are kept for a while only. Please upload your photo again to see its lookalikes.',
    );
    clearPreview();
    return;
  }
  showMessage(describeFailure(err, photoName));
  if (photoName && isUnreadablePhoto(err)) {
    local = undefined;
    clearPreview();
  }
}

/** Whether the state's search is of a part of the shopper's photo. */
function isSelection(s: ViewState): boolean {
  if (s.similar) return false;
  if (local?.selection && (!s.q || local.queryId === s.q)) return true;
  return Boolean(s.q && local?.queryId !== s.q && storedPhoto(s.q)?.selection);
}

function describeQuery(s: ViewState, result: Results): string {
  const filters = filterSummary(s.filters);
  let subject = 'Most similar to your photo';
  if (s.similar) {
    const name = el.previewCaption.textContent?.replace(/^More like: /, '');
    subject = `Most similar to ${name || `product ${s.similar}`}`;
  } else if (isSelection(s)) {
    subject = 'Most similar to your selection';
  }
  const parts = [subject];
  if (filters) parts.push(`filtered: ${filters}`);
  let note = parts.join(' · ');
  if (!s.similar && result.query.recognisedAs) {
    note += `. Your photo is catalogue product ${result.query.recognisedAs}, so it is left out.`;
  }
  return note;
}

/** The kinds offered for a search before a kind was chosen. */
let chipMemory: { query: string; kinds: string[] } = { query: '', kinds: [] };

function renderSummary(s: ViewState, result: Results): void {
  el.note.textContent = describeQuery(s, result);
  el.empty.hidden = shownCount > 0;
  el.more.hidden = !hasMore || shownCount >= 200 + MAX_PER_REQUEST;
  const strength = strengthNote(result.results);
  el.strength.textContent = strength ?? '';
  el.strength.hidden = !strength;
  const kind = catalogue.kind;
  if (kind && shownCount > 0) {
    const chosen = s.filters[kind] ?? [];
    // Filtered by kind, the results show only the chosen kinds: the other likely kinds of this
    // search stay on offer, so that a second tap can add one.
    const query = s.q ?? s.similar ?? 'local';
    let kinds = likelyKinds(result, kind, chosen);
    if (chosen.length > 0 && chipMemory.query === query) {
      kinds = [...new Set([...kinds, ...chipMemory.kinds])];
    } else if (chosen.length === 0) {
      chipMemory = { query, kinds };
    }
    renderKindChips(el.kinds, kinds, chosen, toggleKind);
    disableEmptyChips(el.kinds, kindCounts);
  } else {
    el.kinds.hidden = !(kind && (s.filters[kind]?.length ?? 0) > 0);
  }
  // A part of the photo searched: the whole photo's garments stay on offer, to search another.
  if (!isSelection(s) || (result.query.garments?.length ?? 0) > 1)
    garmentBoxes.show(result.query.garments ?? []);
  if (shownCount === 0) {
    el.empty.querySelector('p')?.replaceChildren('No products match these filters. Try clearing one.');
    announce('No products match these filters.');
  } else {
    const filters = filterSummary(s.filters);
    announce(
      `${shownCount} lookalike${shownCount === 1 ? '' : 's'} found${filters ? ` (filtered: ${filters})` : ''}.`,
    );
  }
}

/**
 * On a narrow screen the results are below the photo: bring them into view, unless the shopper
 * is choosing filters (the status bar and the live region say what was found).
 */
function revealResults(): void {
  const below = el.results.getBoundingClientRect().top >= window.innerHeight * 0.6;
  if (el.filters.contains(document.activeElement)) {
    if (below && shownCount > 0) {
      showFound(`${shownCount}${hasMore ? '+' : ''} lookalike${shownCount === 1 ? '' : 's'} found`, () => {
        el.results.focus({ preventScroll: true });
        el.results.scrollIntoView({ block: 'start' });
      });
    }
    return;
  }
  if (!below) return;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  el.results.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
}

// --- Actions ------------------------------------------------------------------------------------

/** Searches a new photo (or part of one): uploaded, then its query id in the address. */
async function searchPhoto(photo: LocalPhoto): Promise<void> {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  setBusy(true);
  clearMessage();
  const filters = state.filters;
  try {
    const result = await upload(photo, filters, { k: PAGE, offset: 0 }, controller.signal);
    if (inFlight !== controller) return;
    local = { ...photo, ...(result.queryId ? { queryId: result.queryId } : {}) };
    const next: ViewState = { filters };
    if (result.queryId) {
      next.q = result.queryId;
      const whole = photo.selection && shownPhoto ? shownPhoto : { photo: photo.photo, name: photo.name };
      await keepPhoto(result.queryId, whole.photo, whole.name, photo.selection);
      previewKey = `q:${result.queryId}`;
    }
    state = next;
    history.pushState({ lookalike: true }, '', `${location.pathname}${writeState(next)}`);
    lastResult = result;
    hasMore = result.page ? result.page.hasMore : false;
    renderResults(el.list, result.results, catalogue, cardActions);
    shownKey = resultsKey(next);
    shownCount = result.results.length;
    hideDetail();
    renderSummary(next, result);
    revealResults();
  } catch (err) {
    if (controller.signal.aborted) return;
    failed({ filters }, err, photo.selection ? undefined : photo.name);
  } finally {
    if (inFlight === controller) {
      inFlight = undefined;
      setBusy(false);
    }
  }
}

async function acceptFile(file: File): Promise<void> {
  clearMessage();
  if (file.type !== '' && !file.type.startsWith('image/')) {
    showMessage(checkFile(file) ?? 'This file is not an image.');
    return;
  }
  showProgress('Preparing your photo…');
  const prepared = await prepareUpload(file);
  const problem = checkFile(prepared.scaled ? new File([prepared.photo], file.name) : file);
  if (problem) {
    hideProgress();
    showMessage(problem);
    return;
  }
  const name = file.name || 'pasted photo';
  showLocalPhoto(prepared.photo, name);
  await searchPhoto({ photo: prepared.photo, name, selection: false });
}

/** The whole photo's query id, for a selection of it. */
const parentQuery = () => (local?.selection ? local.parent : (local?.queryId ?? state.q));

async function searchSelection(): Promise<void> {
  let photo: Blob;
  try {
    photo = await cropBox.selection();
  } catch {
    showMessage('The selection could not be cut out of this photo. Try another area.');
    return;
  }
  const parent = parentQuery();
  await searchPhoto({ photo, name: 'selection.jpg', selection: true, ...(parent ? { parent } : {}) });
}

async function searchGarment(index: number, garment: Garment): Promise<void> {
  let photo: Blob;
  try {
    photo = await cutOut(el.previewImage, garment.box);
  } catch {
    showMessage('That garment could not be cut out of this photo. Try cropping it yourself.');
    return;
  }
  const parent = parentQuery();
  await searchPhoto({
    photo,
    name: `garment-${index + 1}.jpg`,
    selection: true,
    ...(parent ? { parent } : {}),
  });
}

function moreLikeThis(p: ApiProduct): void {
  clearMessage();
  const name = p.name ?? `Product ${p.id}`;
  previewKey = '';
  showPreview(`similar:${p.id}`, p.imageUrl, `More like: ${name}`, name, true);
  go({ similar: p.id, filters: state.filters }, 'push');
  el.results.focus({ preventScroll: true });
  el.preview.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

function toggleKind(value: string, on: boolean): void {
  const kind = catalogue.kind;
  if (!kind) return;
  const current = state.filters[kind] ?? [];
  const values = on ? [...current, value] : current.filter((v) => v.toLowerCase() !== value.toLowerCase());
  const filters = { ...state.filters };
  if (values.length > 0) filters[kind] = values;
  else delete filters[kind];
  const { shown: _shown, product: _product, ...rest } = state;
  go({ ...rest, filters }, 'push');
}

function changeFilters(filters: Filters): void {
  const { shown: _shown, product: _product, ...rest } = state;
  go({ ...rest, filters }, 'push');
}

const detailHref = (id: string) => `${location.pathname}${writeState({ ...state, product: id })}`;

const cardActions: CardActions = {
  detailHref,
  onDetail: (p) => go({ ...state, product: p.id }, 'push'),
  onMore: moreLikeThis,
};

// --- The detail view ------------------------------------------------------------------------------

let detailShown: string | undefined;

async function showDetail(id: string): Promise<void> {
  if (detailShown === id && !el.detail.hidden) return;
  let p: ApiProduct;
  try {
    p = await product(id);
  } catch (err) {
    showMessage(describeFailure(err));
    return;
  }
  if (state.product !== id) return;
  detailShown = id;
  const hasResults = Boolean(state.q || state.similar || local);
  const heading = renderDetail(el.detail, p, {
    onMore: moreLikeThis,
    onBack: hasResults ? closeDetail : undefined,
  });
  el.detail.hidden = false;
  el.results.classList.add('is-detail');
  heading.focus({ preventScroll: true });
  el.detail.scrollIntoView({ block: 'start', behavior: 'auto' });
}

function hideDetail(): void {
  if (el.detail.hidden) return;
  const id = detailShown;
  el.detail.hidden = true;
  el.detail.replaceChildren();
  el.results.classList.remove('is-detail');
  detailShown = undefined;
  // Back where the shopper was: the product's card.
  const link = id
    ? [...el.list.querySelectorAll<HTMLAnchorElement>('.card-link')].find((a) =>
        a.href.includes(`product=${encodeURIComponent(id)}`),
      )
    : undefined;
  link?.focus({ preventScroll: false });
}

function closeDetail(): void {
  if ((history.state as { lookalike?: boolean } | null)?.lookalike) history.back();
  else {
    const { product: _product, ...rest } = state;
    go(rest, 'replace');
  }
}

// --- Filters and their counts ----------------------------------------------------------------------

let countsFor = '';
/** How many products each kind would find under the other filters (lower-cased kinds). */
let kindCounts: Map<string, number> | undefined;

function countsOf(f: Facets, column: string | undefined): Map<string, number> | undefined {
  const counts = f.facets.find((x) => x.column === column)?.counts;
  return counts ? new Map(counts.map((c) => [c.value.toLowerCase(), c.count])) : undefined;
}

async function refreshCounts(filters: Filters): Promise<void> {
  const key = JSON.stringify(filters);
  if (key === countsFor || facetColumns.length === 0) return;
  countsFor = key;
  try {
    const counted = await facets(filters);
    if (countsFor === key) {
      filterForm.updateCounts(counted);
      kindCounts = countsOf(counted, catalogue.kind);
      disableEmptyChips(el.kinds, kindCounts);
    }
  } catch {
    countsFor = '';
  }
}

// --- Wiring -------------------------------------------------------------------------------------------

setUpIntake(el, (file) => void acceptFile(file));

el.previewImage.addEventListener('error', () => {
  // A format this browser cannot show (e.g. TIFF) can still be searched: the server reads it.
  if (!el.preview.hidden && el.previewImage.getAttribute('src')) {
    el.preview.classList.add('no-preview');
    el.crop.disabled = true;
  }
});

/** Crop on or off; off goes back to the whole photo's results if a selection was searched. */
function toggleCropping(): void {
  const on = !cropBox.active;
  setCropping(on);
  if (on) {
    cropBox.whenReady(() => {
      if (document.activeElement === el.crop) cropBox.box?.focus({ preventScroll: true });
    });
  } else if (local?.selection) {
    const parent = local.parent;
    local = { ...local, selection: false, ...(parent ? { queryId: parent } : {}) };
    if (parent) go({ q: parent, filters: state.filters }, 'push');
  }
}

el.crop.addEventListener('click', toggleCropping);
el.searchCrop.addEventListener('click', () => void searchSelection());
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && cropBox.active) {
    toggleCropping();
    el.crop.focus();
  }
});
garmentBoxes.onPick((i, g) => void searchGarment(i, g));
el.more.addEventListener('click', () => {
  go({ ...state, shown: shownCount + PAGE }, 'replace');
});
filterForm.onChange(changeFilters);

window.addEventListener('popstate', () => {
  state = readState(location.search, facetColumns);
  if (!state.q && !state.similar) local = undefined;
  if (state.q && local?.queryId !== state.q) local = undefined;
  void show();
});

// "N lookalikes found" goes once the results are in view.
window.addEventListener(
  'scroll',
  () => {
    if (el.results.getBoundingClientRect().top < window.innerHeight * 0.6) hideFound();
  },
  { passive: true },
);

watchIndexing(el.indexing);

async function start(): Promise<void> {
  let f: Facets | undefined;
  try {
    f = await facets();
    catalogue = catalogueView(f);
    facetColumns = f.facets.map((x) => x.column);
  } catch {
    showMessage('The filters could not be loaded; searching without them still works.');
  }
  state = readState(location.search, facetColumns);
  if (f) filterForm.build(f, state.filters);
  if (state.q || state.similar || state.product) await show();
  else void refreshCounts(state.filters);
}

void start();
