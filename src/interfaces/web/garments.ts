/**
 * Several garments in one photo: the server's suggested boxes drawn over the shown photo, and a
 * "Search this one" button per box (the page cuts that part out and searches it).
 */
import type { Garment } from './api.js';
import { h } from './dom.js';

/** Where a box lies in the photo, in words ("on the left", "top right", "in the middle"). */
export function where(g: Garment): string {
  const x = g.box.left + g.box.width / 2;
  const y = g.box.top + g.box.height / 2;
  const across = x < 0.4 ? 'left' : x > 0.6 ? 'right' : '';
  const down = y < 0.35 ? 'top' : y > 0.65 ? 'bottom' : '';
  if (!across && !down) return 'in the middle';
  if (across && down) return `${down} ${across}`;
  return `at the ${across || down}`;
}

export class GarmentBoxes {
  private garments: Garment[] = [];
  private pick: (index: number) => void = () => {};

  constructor(
    private readonly image: HTMLImageElement,
    /** Drawn over the photo (pointer only: the buttons in `list` are the accessible way). */
    private readonly layer: HTMLElement,
    private readonly list: HTMLElement,
  ) {
    window.addEventListener('resize', () => this.place());
    image.addEventListener('load', () => this.place());
  }

  onPick(run: (index: number, garment: Garment) => void): void {
    this.pick = (i) => {
      const g = this.garments[i];
      if (g) run(i, g);
    };
  }

  /** Where the photo is drawn inside its (object-fit: contain) element. */
  private place(): void {
    const img = this.image;
    if (this.garments.length === 0 || !img.naturalWidth || !img.offsetParent) return;
    const scale = Math.min(img.clientWidth / img.naturalWidth, img.clientHeight / img.naturalHeight);
    const w = img.naturalWidth * scale;
    const hgt = img.naturalHeight * scale;
    this.layer.style.left = `${img.offsetLeft + (img.clientWidth - w) / 2}px`;
    this.layer.style.top = `${img.offsetTop + (img.clientHeight - hgt) / 2}px`;
    this.layer.style.width = `${w}px`;
    this.layer.style.height = `${hgt}px`;
  }

  show(garments: readonly Garment[]): void {
    this.garments = garments.length > 1 ? [...garments] : [];
    const label = (g: Garment, i: number) => `${i + 1}: ${g.kind ? `${g.kind}, ` : ''}${where(g)}`;
    this.layer.replaceChildren(
      ...this.garments.map((g, i) => {
        const box = h('div', { class: 'garment-box' }, h('span', { text: String(i + 1) }));
        box.style.left = `${g.box.left * 100}%`;
        box.style.top = `${g.box.top * 100}%`;
        box.style.width = `${g.box.width * 100}%`;
        box.style.height = `${g.box.height * 100}%`;
        box.addEventListener('click', () => this.pick(i));
        return box;
      }),
    );
    this.list.replaceChildren(
      ...this.garments.map((g, i) => {
        const button = h('button', {
          class: 'btn btn-small',
          text: `Search this one (${label(g, i)})`,
          attrs: { type: 'button', 'data-garment': String(i) },
        });
        button.addEventListener('click', () => this.pick(i));
        return h('li', {}, button);
      }),
    );
    const on = this.garments.length > 0;
    this.layer.hidden = !on;
    this.list.closest<HTMLElement>('.garments')?.toggleAttribute('hidden', !on);
    this.place();
  }

  /** Hidden while cropping (the crop box is drawn over the photo then). */
  setVisible(visible: boolean): void {
    this.layer.hidden = !visible || this.garments.length === 0;
  }

  clear(): void {
    this.show([]);
  }
}
