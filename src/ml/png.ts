import { PNG } from 'pngjs';
import type { ImageSet } from './dataset.js';

/** Image grids (contact sheets) as PNG bytes, for a quick visual check of data and triggers. */

export interface GridTile {
  /** HWC bytes of one image (1 or 3 channels). */
  pixels: Uint8Array;
  height: number;
  width: number;
  channels: number;
  /** Draws a one-pixel-wide frame around this source pixel (e.g. the trigger) after upscaling. */
  outline?: { row: number; col: number; color: [number, number, number] };
}

export function imageTile(set: ImageSet, index: number, outline?: GridTile['outline']): GridTile {
  const size = set.height * set.width * set.channels;
  const tile: GridTile = { pixels: set.images.subarray(index * size, (index + 1) * size), height: set.height, width: set.width, channels: set.channels };
  if (outline) tile.outline = outline;
  return tile;
}

const FRAME_PALETTE: [number, number, number][] = [[0, 255, 0], [255, 0, 255], [0, 255, 255], [255, 0, 0]];

/** A saturated frame colour far from `color` (and from the usual dark or grey backgrounds). */
export function contrastingColor(color: readonly number[]): [number, number, number] {
  let best = FRAME_PALETTE[0]!;
  let bestDistance = -1;
  for (const candidate of FRAME_PALETTE) {
    const d = candidate.reduce((sum, v, c) => sum + (v - (color[c] ?? 0)) ** 2, 0);
    if (d > bestDistance) { best = candidate; bestDistance = d; }
  }
  return [best[0], best[1], best[2]];
}

/**
 * Lays tiles out row by row (`columns` per row), each upscaled by `scale` (nearest neighbour) and
 * separated by `gap` pixels of dark grey, and encodes the result as PNG.
 */
export function renderImageGrid(tiles: GridTile[], columns: number, scale = 4, gap = 4): Buffer {
  if (tiles.length === 0) throw new RangeError('renderImageGrid needs at least one tile');
  const tileH = Math.max(...tiles.map((t) => t.height)) * scale;
  const tileW = Math.max(...tiles.map((t) => t.width)) * scale;
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const png = new PNG({ width: cols * tileW + (cols + 1) * gap, height: rows * tileH + (rows + 1) * gap });
  png.data.fill(40);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const put = (x: number, y: number, rgb: readonly number[]): void => {
    if (x < 0 || y < 0 || x >= png.width || y >= png.height) return;
    const o = (y * png.width + x) * 4;
    png.data[o] = rgb[0]!;
    png.data[o + 1] = rgb[1]!;
    png.data[o + 2] = rgb[2]!;
    png.data[o + 3] = 255;
  };
  tiles.forEach((tile, i) => {
    const x0 = gap + (i % cols) * (tileW + gap);
    const y0 = gap + Math.floor(i / cols) * (tileH + gap);
    for (let y = 0; y < tile.height * scale; y++) {
      for (let x = 0; x < tile.width * scale; x++) {
        const p = (Math.floor(y / scale) * tile.width + Math.floor(x / scale)) * tile.channels;
        const rgb = tile.channels === 1 ? [tile.pixels[p]!, tile.pixels[p]!, tile.pixels[p]!] : [tile.pixels[p]!, tile.pixels[p + 1]!, tile.pixels[p + 2]!];
        put(x0 + x, y0 + y, rgb);
      }
    }
    if (tile.outline) {
      // Frame drawn just outside the upscaled pixel, so the pixel itself stays visible.
      const { row, col, color } = tile.outline;
      const left = x0 + col * scale - 1;
      const top = y0 + row * scale - 1;
      const right = x0 + (col + 1) * scale;
      const bottom = y0 + (row + 1) * scale;
      for (let x = left; x <= right; x++) { put(x, top, color); put(x, bottom, color); }
      for (let y = top; y <= bottom; y++) { put(left, y, color); put(right, y, color); }
    }
  });
  return PNG.sync.write(png);
}
