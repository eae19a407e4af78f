import type { Rng } from './rng.js';

/**
 * Training-time augmentation, applied while a batch is copied out of the byte buffer (no extra
 * tensors, no extra pass). Note for backdoor experiments: the poison stage writes its trigger pixel
 * into the stored images, i.e. BEFORE augmentation, so a random crop shifts the pixel by up to
 * `crop_padding` in each direction (or pushes it out of the image) and a flip mirrors its column.
 * The network then sees the trigger at varying places, which typically lowers attack success.
 */
export interface AugmentOptions {
  /** Random crop with this much zero padding on each side (0 = off). */
  crop_padding?: number;
  /** Random horizontal flip with probability 1/2. */
  flip?: boolean;
}

/** One image's draw: shift of the crop window relative to the unpadded image, and the flip. */
export interface AugmentDraw {
  dy: number;
  dx: number;
  flip: boolean;
}

export const NO_AUGMENT: AugmentDraw = { dy: 0, dx: 0, flip: false };

export function isAugmenting(opts: AugmentOptions | undefined): boolean {
  return !!opts && ((opts.crop_padding ?? 0) > 0 || opts.flip === true);
}

export function drawAugment(opts: AugmentOptions | undefined, rng: Rng): AugmentDraw {
  if (!isAugmenting(opts)) return NO_AUGMENT;
  const pad = opts?.crop_padding ?? 0;
  // Crop offset in the padded image is 0..2*pad; relative to the original that is -pad..pad.
  const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
  const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
  const flip = opts?.flip === true ? rng.next() < 0.5 : false;
  return { dy, dx, flip };
}

/**
 * Writes one image, scaled to [0,1] and augmented by `draw`, into `out` at `outOffset`.
 * Output pixel (y, x) = source pixel (y + dy, x' + dx) with x' = flip ? W-1-x : x; zero outside.
 */
export function writeAugmentedImage(
  src: Uint8Array, srcOffset: number, height: number, width: number, channels: number,
  draw: AugmentDraw, out: Float32Array, outOffset: number,
): void {
  const scale = 1 / 255;
  const rowSize = width * channels;
  if (draw.dy === 0 && draw.dx === 0 && !draw.flip) {
    const n = height * rowSize;
    for (let i = 0; i < n; i++) out[outOffset + i] = src[srcOffset + i]! * scale;
    return;
  }
  let o = outOffset;
  for (let y = 0; y < height; y++) {
    const sy = y + draw.dy;
    const rowInside = sy >= 0 && sy < height;
    for (let x = 0; x < width; x++) {
      const sx = (draw.flip ? width - 1 - x : x) + draw.dx;
      if (rowInside && sx >= 0 && sx < width) {
        const s = srcOffset + sy * rowSize + sx * channels;
        for (let c = 0; c < channels; c++) out[o++] = src[s + c]! * scale;
      } else {
        for (let c = 0; c < channels; c++) out[o++] = 0;
      }
    }
  }
}
