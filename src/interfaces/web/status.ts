/**
 * The status bar, fixed to the bottom of the screen so that a phone shows it wherever the page is
 * scrolled: the progress of an upload and a search, and errors (announced as alerts).
 */
import { byId } from './dom.js';

const el = {
  progress: byId('spinner'),
  text: byId('progress-text'),
  fill: byId('progress-fill'),
  box: byId('message-box'),
  message: byId('message'),
  dismiss: byId<HTMLButtonElement>('dismiss'),
  found: byId('found'),
  foundText: byId('found-text'),
  seeResults: byId<HTMLButtonElement>('see-results'),
};

let onSee: () => void = () => {};
el.seeResults.addEventListener('click', () => {
  hideFound();
  onSee();
});

/** Results found out of view (the shopper is choosing filters): says so, with a way to them. */
export function showFound(text: string, see: () => void): void {
  el.foundText.textContent = text;
  onSee = see;
  el.found.hidden = false;
  document.body.classList.add('has-status');
}

export function hideFound(): void {
  el.found.hidden = true;
}

el.dismiss.addEventListener('click', () => clearMessage());

/** Shows progress: `fraction` (0..1) where it is known (an upload), a spinner alone otherwise. */
export function showProgress(text: string, fraction?: number): void {
  hideFound();
  el.text.textContent = text;
  el.progress.hidden = false;
  el.progress.classList.toggle('is-measured', fraction !== undefined);
  el.fill.style.width = `${Math.round((fraction ?? 0) * 100)}%`;
  document.body.classList.add('has-status');
}

export function hideProgress(): void {
  el.progress.hidden = true;
  if (el.box.hidden && el.found.hidden) document.body.classList.remove('has-status');
}

export function showMessage(text: string): void {
  el.box.hidden = false;
  el.message.textContent = text;
  document.body.classList.add('has-status');
}

export function clearMessage(): void {
  el.box.hidden = true;
  el.message.textContent = '';
  if (el.progress.hidden && el.found.hidden) document.body.classList.remove('has-status');
}
