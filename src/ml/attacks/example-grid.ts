import { PNG } from 'pngjs';
import { applyPixelChange, type ImageShape, type PixelChange } from './candidate-batch.js';

/** One cell pair of the grid: the clean image and the same image with the found pixel. */
export interface ExamplePair {
  /** H×W×C bytes of the clean image. */
  pixels: Uint8Array;
  change: PixelChange;
  /** Drawn as a green (reached the goal) or red (did not) bar under the adversarial image. */
  success?: boolean;
}

export interface ExampleGridOptions {
  /** Pixels per image pixel (nearest-neighbour upscaling). */
  scale?: number;
  /** Pairs per row of the grid. */
  pairsPerRow?: number;
}

const BACKGROUND = [32, 32, 32] as const;
const GAP = 6;

/**
 * A PNG of original | adversarial pairs (success bar below each adversarial image), upscaled so a single pixel is visible. The changed pixel
 * is framed by a ring drawn in the cells around it (never over it), in black or white, whichever
 * contrasts with the new colour, so the frame does not hide what the attack did.
 */
export function renderExampleGrid(pairs: readonly ExamplePair[], shape: ImageShape, options: ExampleGridOptions = {}): Buffer {
  const scale = options.scale ?? 4;
  const perRow = Math.max(1, Math.min(options.pairsPerRow ?? 4, pairs.length || 1));
  const cellW = shape.width * scale;
  const cellH = shape.height * scale;
  const pairW = 2 * cellW + GAP;
  const rows = Math.max(1, Math.ceil(pairs.length / perRow));
  const width = GAP + perRow * (pairW + 2 * GAP);
  const height = GAP + rows * (cellH + GAP);
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([...BACKGROUND, 255], i * 4);

  pairs.forEach((pair, index) => {
    const x0 = GAP + (index % perRow) * (pairW + 2 * GAP);
    const y0 = GAP + Math.floor(index / perRow) * (cellH + GAP);
    drawImage(png, pair.pixels, shape, scale, x0, y0);
    const adversarial = applyPixelChange(pair.pixels, pair.change, shape);
    drawImage(png, adversarial, shape, scale, x0 + cellW + GAP, y0);
    drawRing(png, pair.change, scale, x0 + cellW + GAP, y0, cellW, cellH);
    if (pair.success !== undefined) {
      const bar = pair.success ? [40, 200, 80] : [220, 50, 50];
      for (let y = y0 + cellH + 1; y < y0 + cellH + GAP - 2; y++) {
        for (let x = x0 + cellW + GAP; x < x0 + 2 * cellW + GAP; x++) setPixel(png, x, y, bar);
      }
    }
  });
  return PNG.sync.write(png);
}

function drawImage(png: PNG, pixels: Uint8Array, shape: ImageShape, scale: number, x0: number, y0: number): void {
  for (let row = 0; row < shape.height; row++) {
    for (let col = 0; col < shape.width; col++) {
      const p = (row * shape.width + col) * shape.channels;
      const rgb = shape.channels >= 3 ? [pixels[p]!, pixels[p + 1]!, pixels[p + 2]!] : [pixels[p]!, pixels[p]!, pixels[p]!];
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) setPixel(png, x0 + col * scale + dx, y0 + row * scale + dy, rgb);
      }
    }
  }
}

function drawRing(png: PNG, change: PixelChange, scale: number, x0: number, y0: number, cellW: number, cellH: number): void {
  const c = change.color;
  const luminance = c.length >= 3 ? 0.299 * c[0]! + 0.587 * c[1]! + 0.114 * c[2]! : c[0]!;
  const ink = luminance > 128 ? [0, 0, 0] : [255, 255, 255];
  const thickness = Math.max(1, Math.floor(scale / 2));
  const left = change.col * scale - thickness;
  const top = change.row * scale - thickness;
  const right = (change.col + 1) * scale + thickness - 1;
  const bottom = (change.row + 1) * scale + thickness - 1;
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      const inside = x >= change.col * scale && x < (change.col + 1) * scale && y >= change.row * scale && y < (change.row + 1) * scale;
      if (inside || x < 0 || y < 0 || x >= cellW || y >= cellH) continue;
      setPixel(png, x0 + x, y0 + y, ink);
    }
  }
}

function setPixel(png: PNG, x: number, y: number, rgb: readonly number[]): void {
  const i = (y * png.width + x) * 4;
  png.data[i] = rgb[0]!;
  png.data[i + 1] = rgb[1]!;
  png.data[i + 2] = rgb[2]!;
  png.data[i + 3] = 255;
}
