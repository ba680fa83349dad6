/**
 * How a photo comes in: the file picker (button or the drop zone, by click, Enter or Space), the
 * camera (a phone's), drag and drop anywhere on the page, or paste from the clipboard.
 */

export interface IntakeElements {
  dropzone: HTMLButtonElement;
  choose: HTMLButtonElement;
  camera: HTMLButtonElement;
  fileInput: HTMLInputElement;
  cameraInput: HTMLInputElement;
}

function firstFile(list: FileList | null | undefined): File | undefined {
  return list && list.length > 0 ? (list[0] ?? undefined) : undefined;
}

/** An image file among pasted items (a copied image, or a copied file). */
function pastedImage(data: DataTransfer | null): File | undefined {
  for (const item of data?.items ?? []) {
    if (item.kind === 'file') {
      const file = item.getAsFile();
      if (file) return file;
    }
  }
  return undefined;
}

export function setUpIntake(el: IntakeElements, onFile: (file: File) => void): void {
  const openPicker = () => el.fileInput.click();
  el.choose.addEventListener('click', openPicker);
  el.camera.addEventListener('click', () => el.cameraInput.click());
  // A real button: Enter and Space click it too.
  el.dropzone.addEventListener('click', openPicker);

  for (const input of [el.fileInput, el.cameraInput]) {
    input.addEventListener('change', () => {
      const file = firstFile(input.files);
      input.value = ''; // choosing the same file again still counts as a change
      if (file) onFile(file);
    });
  }

  // Drag and drop: anywhere on the page, with the drop zone lit up while a file is over the page.
  let depth = 0;
  const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    el.dropzone.classList.add('is-dragging');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) el.dropzone.classList.remove('is-dragging');
  });
  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (event) => {
    depth = 0;
    el.dropzone.classList.remove('is-dragging');
    const file = firstFile(event.dataTransfer?.files);
    if (!file) return;
    event.preventDefault();
    onFile(file);
  });

  document.addEventListener('paste', (event) => {
    const file = pastedImage(event.clipboardData);
    if (!file) return;
    event.preventDefault();
    onFile(file);
  });
}
