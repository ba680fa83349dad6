/**
 * The Lookalike page: a photo in (picker, camera, drop, paste), optionally cropped to one garment,
 * the most similar catalogue products out, with filters and "more like this".
 */
import type { ApiProduct, ApiRecommendation, ApiResults } from '../http/api/contract.js';
import { facets, recommend, similar } from './api.js';
import { type CatalogueView, catalogueView, UNKNOWN_CATALOGUE } from './catalogue.js';
import { CropBox } from './cropping.js';
import { byId } from './dom.js';
import { FilterForm } from './filters.js';
import { setUpIntake } from './intake.js';
import { checkFile, describeFailure, isUnreadablePhoto } from './messages.js';
import { renderResults } from './results.js';

/** What is searched: an uploaded photo (or a selection of it), or a catalogue product. */
type Query =
  | { kind: 'photo'; photo: Blob; name: string; selection: boolean }
  | { kind: 'product'; product: ApiProduct };

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
  message: byId('message'),
  spinner: byId('spinner'),
  empty: byId('empty'),
  list: byId<HTMLOListElement>('result-list'),
  live: byId('live'),
};

const cropBox = new CropBox(el.previewImage);
const filterForm = new FilterForm(el.filters, el.filterFields);
/** The catalogue's facets, once /api/facets has answered. */
let catalogue: CatalogueView = UNKNOWN_CATALOGUE;

/** The whole photo or product shown as the query (a selection is searched, but this stays shown). */
let shown: Query | undefined;
let query: Query | undefined;
let inFlight: AbortController | undefined;
let objectUrl: string | undefined;

function showMessage(text: string): void {
  el.message.textContent = text;
  el.message.hidden = false;
}

function clearMessage(): void {
  el.message.hidden = true;
  el.message.textContent = '';
}

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
  el.spinner.hidden = !busy;
}

function setCropping(on: boolean): void {
  if (on) cropBox.enable();
  else cropBox.disable();
  el.crop.setAttribute('aria-pressed', String(on));
  el.searchCrop.hidden = !on;
  el.cropHint.hidden = !on;
}

function showQuery(q: Query, src: string, caption: string, alt: string): void {
  setCropping(false);
  shown = q;
  el.preview.classList.remove('no-preview');
  el.preview.classList.toggle('is-product', q.kind === 'product');
  el.previewImage.src = src;
  el.previewImage.alt = alt;
  el.previewCaption.textContent = caption;
  el.preview.hidden = false;
  el.dropzone.classList.add('is-compact');
  el.crop.disabled = false;
}

/** Back to the start: no photo shown (after a file that turned out not to be a usable photo). */
function clearQuery(): void {
  setCropping(false);
  shown = undefined;
  query = undefined;
  el.preview.hidden = true;
  el.previewImage.removeAttribute('src');
  el.dropzone.classList.remove('is-compact');
  el.crop.disabled = true;
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = undefined;
}

function acceptFile(file: File): void {
  const problem = checkFile(file);
  if (problem) {
    showMessage(problem);
    return;
  }
  clearMessage();
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(file);
  const name = file.name || 'pasted photo';
  const q: Query = { kind: 'photo', photo: file, name, selection: false };
  showQuery(q, objectUrl, name, `Your photo: ${name}`);
  query = q;
  void search();
}

function moreLikeThis(product: ApiRecommendation): void {
  clearMessage();
  const name = product.name ?? `Product ${product.id}`;
  const q: Query = { kind: 'product', product };
  showQuery(q, product.imageUrl, `More like: ${name}`, name);
  query = q;
  el.results.focus({ preventScroll: true });
  el.preview.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  void search();
}

function describeQuery(q: Query, result: ApiResults): string {
  const filters = filterForm.summary();
  const parts = [
    q.kind === 'product'
      ? `Most similar to ${q.product.name ?? `product ${q.product.id}`}`
      : q.selection
        ? 'Most similar to your selection'
        : 'Most similar to your photo',
  ];
  if (filters) parts.push(`filtered: ${filters}`);
  let note = parts.join(' · ');
  if (q.kind === 'photo' && result.query.recognisedAs) {
    note += `. Your photo is catalogue product ${result.query.recognisedAs}, so it is left out.`;
  }
  return note;
}

/** On a narrow screen the results are below the photo: bring them into view. */
function revealResults(): void {
  if (el.results.getBoundingClientRect().top < window.innerHeight * 0.6) return;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  el.results.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
}

function render(q: Query, result: ApiResults): void {
  renderResults(el.list, result.results, catalogue, moreLikeThis);
  el.note.textContent = describeQuery(q, result);
  const count = result.results.length;
  el.empty.hidden = count > 0;
  if (count === 0) {
    el.empty.querySelector('p')?.replaceChildren('No products match these filters. Try clearing one.');
    announce('No products match these filters.');
  } else {
    const filters = filterForm.summary();
    announce(`${count} lookalike${count === 1 ? '' : 's'} found${filters ? ` (filtered: ${filters})` : ''}.`);
  }
}

async function search(): Promise<void> {
  const q = query;
  if (!q) return;
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  setBusy(true);
  clearMessage();
  const filters = filterForm.values();
  try {
    const result =
      q.kind === 'photo'
        ? await recommend(q.photo, q.name, filters, controller.signal)
        : await similar(q.product.id, filters, controller.signal);
    if (inFlight === controller) {
      render(q, result);
      revealResults();
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    el.list.replaceChildren();
    el.note.textContent = '';
    el.empty.hidden = true;
    showMessage(describeFailure(err, q.kind === 'photo' && !q.selection ? q.name : undefined));
    if (q.kind === 'photo' && !q.selection && isUnreadablePhoto(err)) clearQuery();
  } finally {
    if (inFlight === controller) {
      inFlight = undefined;
      setBusy(false);
    }
  }
}

async function searchSelection(): Promise<void> {
  try {
    const photo = await cropBox.selection();
    query = { kind: 'photo', photo, name: 'selection.jpg', selection: true };
    await search();
  } catch {
    showMessage('The selection could not be cut out of this photo. Try another area.');
  }
}

setUpIntake(el, acceptFile);

el.previewImage.addEventListener('error', () => {
  // A format this browser cannot show (e.g. TIFF) can still be searched: the server reads it.
  if (!el.preview.hidden && el.previewImage.getAttribute('src')) {
    el.preview.classList.add('no-preview');
    el.crop.disabled = true;
  }
});

/** Crop on or off; off searches the whole photo again if a selection was searched. */
function toggleCropping(): void {
  const on = !cropBox.active;
  setCropping(on);
  if (!on && query?.kind === 'photo' && query.selection && shown) {
    query = shown;
    void search();
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

filterForm.onChange(() => void search());

facets()
  .then((f) => {
    catalogue = catalogueView(f);
    filterForm.build(f);
  })
  .catch(() => showMessage('The filters could not be loaded; searching without them still works.'));
