/**
 * Background indexing, as /api/health reports it while the server builds its index: a progress
 * line ("Indexing the catalogue: 12,345 of 44,441 photos · 40/s · about 13 min left"), polled
 * every few seconds until indexing is done. Searches work meanwhile (over what is indexed).
 */
import type { Indexing } from './api.js';
import { health } from './api.js';

const POLL_MS = 3000;

/** Seconds left in words: "about 13 min left", "about 1 h 5 min left", "less than a minute left". */
export function etaText(seconds: number | null): string | undefined {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return undefined;
  if (seconds < 60) return 'less than a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} min left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `about ${hours} h${rest > 0 ? ` ${rest} min` : ''} left`;
}

export function progressText(p: Indexing): string {
  const n = (x: number) => x.toLocaleString('en');
  switch (p.state) {
    case 'starting':
      return 'Getting ready to index the catalogue…';
    case 'failed':
      return `Indexing the catalogue stopped${p.error ? `: ${p.error}` : ''}. Searches cover ${n(p.searchable)} products.`;
    case 'done':
      return `The catalogue is indexed: ${n(p.searchable)} products.`;
    default: {
      const parts = [
        `${p.state === 'learning' ? 'Learning from the catalogue' : 'Indexing the catalogue'}: ${n(p.indexed)} of ${n(p.total)} photos`,
      ];
      if (p.rate !== null && p.rate > 0)
        parts.push(`${p.rate >= 10 ? Math.round(p.rate) : p.rate.toFixed(1)}/s`);
      const eta = etaText(p.etaSeconds);
      if (eta) parts.push(eta);
      return `${parts.join(' · ')}. Searches already cover ${n(p.searchable)} products.`;
    }
  }
}

/** Polls /api/health while indexing is under way, showing its progress in `line`. */
export function watchIndexing(line: HTMLElement): void {
  const poll = async () => {
    let indexing: Indexing | undefined;
    try {
      indexing = (await health()).indexing;
    } catch {
      setTimeout(poll, POLL_MS * 3);
      return;
    }
    if (!indexing) {
      line.hidden = true;
      return;
    }
    line.textContent = progressText(indexing);
    line.hidden = indexing.state === 'done';
    if (indexing.state !== 'done' && indexing.state !== 'failed') setTimeout(poll, POLL_MS);
  };
  void poll();
}
