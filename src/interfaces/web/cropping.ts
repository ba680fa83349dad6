/** An optional crop box over the shown photo (cropperjs), to search for one garment in a larger picture. */
import Cropper from 'cropperjs';

/** Longest side of the uploaded selection: plenty for a 224x224 model input. */
const MAX_SIDE = 1024;

export class CropBox {
  private cropper: Cropper | undefined;
  /** The chosen area in the photo's own pixels, as the person last left it. */
  private chosen: Cropper.Data | undefined;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly image: HTMLImageElement) {}

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
      },
      cropend: () => {
        this.chosen = cropper.getData();
      },
    });
    this.cropper = cropper;
    window.addEventListener('resize', this.onResize);
  }

  disable(): void {
    window.removeEventListener('resize', this.onResize);
    clearTimeout(this.resizeTimer);
    this.cropper?.destroy();
    this.cropper = undefined;
    this.chosen = undefined;
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
