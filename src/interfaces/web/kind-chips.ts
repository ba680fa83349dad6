/**
 * "Refine by kind": after results, one chip per likely kind of product (the learned similarity's
 * guess for the photo first, then the kinds among the results, most frequent first). A tap adds
 * that kind to the filter (several may be on), a second tap removes it.
 */
import type { Results } from './api.js';
import { h } from './dom.js';

/** At most this many chips. */
const MAX_CHIPS = 6;

/** The likely kinds: predicted first, then the results' kinds by frequency; chosen ones always. */
export function likelyKinds(result: Results, kind: string, chosen: readonly string[]): string[] {
  const kinds: string[] = [];
  const add = (value: string | undefined) => {
    const v = value?.trim();
    if (v && !kinds.some((k) => k.toLowerCase() === v.toLowerCase())) kinds.push(v);
  };
  for (const v of chosen) add(v);
  for (const p of result.query.predicted ?? []) if (p.column === kind && p.probability >= 0.05) add(p.value);
  const counts = new Map<string, number>();
  for (const r of result.results) {
    const v = r.metadata[kind]?.trim();
    if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  for (const [v] of [...counts].sort((a, b) => b[1] - a[1])) add(v);
  return kinds.slice(0, Math.max(MAX_CHIPS, chosen.length));
}

export function renderKindChips(
  container: HTMLElement,
  kinds: readonly string[],
  chosen: readonly string[],
  onToggle: (value: string, on: boolean) => void,
): void {
  const isOn = (v: string) => chosen.some((c) => c.toLowerCase() === v.toLowerCase());
  const chips = kinds.map((value) => {
    const on = isOn(value);
    const chip = h(
      'button',
      { class: 'chip', attrs: { type: 'button', 'aria-pressed': String(on), 'data-kind': value } },
      h('span', { class: 'chip-tick', text: on ? '✓' : '', attrs: { 'aria-hidden': 'true' } }),
      value,
    );
    chip.addEventListener('click', () => onToggle(value, !on));
    return h('li', {}, chip);
  });
  container.hidden = kinds.length < 2 && chosen.length === 0;
  container.querySelector('ul')?.replaceChildren(...chips);
}

/** Chips for kinds that would find nothing under the other filters are disabled (no dead ends). */
export function disableEmptyChips(container: HTMLElement, counts: Map<string, number> | undefined): void {
  for (const chip of container.querySelectorAll<HTMLButtonElement>('.chip')) {
    const count = counts?.get((chip.dataset.kind ?? '').toLowerCase());
    chip.disabled = chip.getAttribute('aria-pressed') !== 'true' && count === 0;
  }
}
