/**
 * Turning DE vectors into images. A candidate vector is (x, y, c0, c1, ...): column, row and one
 * value per channel on the 0..255 scale; it is rounded to a real pixel only here, so the search
 * itself works on continuous values like the paper's implementation.
 */

export interface ImageShape {
  height: number;
  width: number;
  channels: number;
}

/** A concrete single-pixel change. */
export interface PixelChange {
  row: number;
  col: number;
  /** One byte per channel. */
  color: number[];
}

/** Vector dimensions of a candidate for this image shape: x, y, then one per channel. */
export function candidateDims(shape: ImageShape): number {
  return 2 + shape.channels;
}

/** Inclusive search bounds of each candidate dimension. */
export function candidateBounds(shape: ImageShape): { low: number[]; high: number[] } {
  const low = [0, 0];
  const high = [shape.width - 1, shape.height - 1];
  for (let c = 0; c < shape.channels; c++) {
    low.push(0);
    high.push(255);
  }
  return { low, high };
}

export function decodeCandidate(vectors: ArrayLike<number>, offset: number, shape: ImageShape): PixelChange {
  const col = clampInt(vectors[offset]!, shape.width - 1);
  const row = clampInt(vectors[offset + 1]!, shape.height - 1);
  const color: number[] = [];
  for (let c = 0; c < shape.channels; c++) color.push(clampInt(vectors[offset + 2 + c]!, 255));
  return { row, col, color };
}

/** Byte image → floats in [0, 1], the scale the predict function expects. */
export function toUnitFloats(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 255;
  return out;
}

/**
 * Writes `base` with the candidate pixel applied into `batch` at image slot `slot`
 * (NHWC floats in [0, 1]). Copying the whole base image is a single memcpy per candidate, which is
 * negligible next to the forward pass it feeds.
 */
export function writeCandidateImage(
  batch: Float32Array,
  slot: number,
  base: Float32Array,
  vectors: ArrayLike<number>,
  vectorOffset: number,
  shape: ImageShape,
): void {
  const imageSize = base.length;
  const start = slot * imageSize;
  batch.set(base, start);
  const col = clampInt(vectors[vectorOffset]!, shape.width - 1);
  const row = clampInt(vectors[vectorOffset + 1]!, shape.height - 1);
  const pixel = start + (row * shape.width + col) * shape.channels;
  for (let c = 0; c < shape.channels; c++) {
    batch[pixel + c] = clampInt(vectors[vectorOffset + 2 + c]!, 255) / 255;
  }
}

/** Same pixel change on a byte image (for outputs such as the example grid). */
export function applyPixelChange(bytes: Uint8Array, change: PixelChange, shape: ImageShape): Uint8Array {
  const out = new Uint8Array(bytes);
  const pixel = (change.row * shape.width + change.col) * shape.channels;
  for (let c = 0; c < shape.channels; c++) out[pixel + c] = change.color[c]!;
  return out;
}

function clampInt(value: number, max: number): number {
  const r = Math.round(value);
  return r < 0 ? 0 : r > max ? max : r;
}
