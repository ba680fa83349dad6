/**
 * An optional crop box over the shown photo (cropperjs), to search for one garment in a larger
 * picture: dragged by pointer or touch, or moved (arrow keys) and resized (Shift + arrow keys) by
 * keyboard once focused.
 */
import Cropper from 'cropperjs';

/** Longest side of the uploaded selection: plenty for a 224x224 model input. */
const MAX_SIDE = 1024;

export class CropBox {
  private cropper: Cropper | undefined;
  /** The chosen area in the photo's own pixels, as the person last left it. */
  private chosen: Cropper.Data | undefined;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly image: HTMLImageElement,
    /** The visible instructions, which also describe the focusable box. */
    private readonly hintId: string,
  ) {}

  get active(): boolean {
    return this.cropper !== undefined;
  }

  enable(): void {
    if (this.cropper) return;
    const cropper = new Cropper(this.image, {
      viewMode: 1,
      autoCropArea: 0.7,
      background: false,
      zoomable: false,
      movable: false,
      rotatable: false,
      scalable: false,
      toggleDragModeOnDblclick: false,
      // cropperjs scales the box by the container's size ratio on resize, which loses it when the
      // container is briefly tiny; the area is put back from `chosen` instead (see onResize).
      restore: false,
      ready: () => {
        this.chosen = cropper.getData();
        this.makeKeyboardUsable(cropper);
        for (const run of this.readyHandlers.splice(0)) run();
      },
      cropend: () => {
        this.chosen = cropper.getData();
      },
    });
    this.cropper = cropper;
    window.addEventListener('resize', this.onResize);
  }

  private readonly readyHandlers: (() => void)[] = [];

  /** Runs once the box is drawn (now if it is). */
  whenReady(run: () => void): void {
    if (this.cropper && this.chosen) run();
    else this.readyHandlers.push(run);
  }

  /** The focusable box (once drawn). */
  get box(): HTMLElement | null {
    return this.image.parentElement?.querySelector<HTMLElement>('.cropper-crop-box') ?? null;
  }

  /** Arrow keys move the box, Shift + arrow keys resize it, by 2% of the photo. */
  private makeKeyboardUsable(cropper: Cropper): void {
    const box = this.box;
    if (!box) return;
    box.tabIndex = 0;
    box.setAttribute('role', 'group');
    box.setAttribute('aria-roledescription', 'crop box');
    box.setAttribute('aria-label', 'Crop box');
    box.setAttribute('aria-describedby', this.hintId);
    box.addEventListener('keydown', (event) => {
      const dir: Record<string, [number, number]> = {
        ArrowLeft: [-1, 0],
        ArrowRight: [1, 0],
        ArrowUp: [0, -1],
        ArrowDown: [0, 1],
      };
      const d = dir[event.key];
      if (!d) return;
      event.preventDefault();
      const canvas = cropper.getCanvasData();
      const step = Math.max(2, Math.round(Math.min(canvas.width, canvas.height) * 0.02));
      const data = cropper.getCropBoxData();
      if (event.shiftKey) {
        cropper.setCropBoxData({
          width: Math.max(step * 2, data.width + d[0] * step),
          height: Math.max(step * 2, data.height + d[1] * step),
        });
      } else {
        cropper.setCropBoxData({ left: data.left + d[0] * step, top: data.top + d[1] * step });
      }
      this.chosen = cropper.getData();
    });
  }

  disable(): void {
    window.removeEventListener('resize', this.onResize);
    clearTimeout(this.resizeTimer);
    this.cropper?.destroy();
    this.cropper = undefined;
    this.chosen = undefined;
    this.readyHandlers.length = 0;
  }

  /** After the layout settles, the same area of the photo again. */
  private readonly onResize = (): void => {
    clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => {
      if (this.cropper && this.chosen) this.cropper.setData(this.chosen);
    }, 150);
  };

  /** The selected area as a JPEG, white where the photo is transparent. */
  selection(): Promise<Blob> {
    const cropper = this.cropper;
    if (!cropper) return Promise.reject(new Error('cropping is off'));
    const canvas = cropper.getCroppedCanvas({
      maxWidth: MAX_SIDE,
      maxHeight: MAX_SIDE,
      fillColor: '#fff',
      imageSmoothingQuality: 'high',
    });
    return new Promise((resolve, reject) =>
      canvas.toBlob(
        (blob) => (blob ? resolve(blob) : reject(new Error('the selection could not be encoded'))),
        'image/jpeg',
        0.92,
      ),
    );
  }
}
