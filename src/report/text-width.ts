/**
 * Text width estimate for DejaVu Sans, the font figures are set in. Headless Vega has no canvas to
 * measure text and by default assumes 0.8 em per character, which is ~35 % too wide for this font:
 * axis labels get truncated and titles pushed away. Advance widths below are DejaVu Sans's (in em),
 * grouped; anything not listed counts as an average lower-case letter.
 */
const WIDTHS: readonly [string, number][] = [
  ["iljI.,:;'|!", 0.29],
  [' ·', 0.318],
  ['ft-()[]/\\', 0.37],
  ['r', 0.41],
  ['szcJ"', 0.53],
  ['0123456789akevxyubdghnopq_?$', 0.625],
  ['ELFTZ+=<>#*~^', 0.69],
  ['ABCDKPRSVXY', 0.7],
  ['GHNOQU&', 0.77],
  ['wm', 0.9],
  ['MW%@', 0.92],
];
const DEFAULT_WIDTH = 0.6;
const BOLD_FACTOR = 1.1;

const table = new Map<string, number>(WIDTHS.flatMap(([chars, width]) => [...chars].map((c): [string, number] => [c, width])));

/** Width in px of `text` at `fontSize` px in DejaVu Sans (bold when `bold`). */
export function estimateTextWidth(text: string, fontSize: number, bold = false): number {
  let ems = 0;
  for (const c of text) ems += table.get(c) ?? DEFAULT_WIDTH;
  return ems * fontSize * (bold ? BOLD_FACTOR : 1);
}

/** The subset of a Vega scenegraph text item that text width depends on. */
export interface TextItemFont {
  fontSize?: number;
  fontWeight?: string | number;
}

/** Drop-in for Vega's `textMetrics.width(item, text)`. */
export function vegaTextWidth(item: TextItemFont, text: unknown): number {
  const size = item.fontSize ?? 11;
  const weight = item.fontWeight;
  const bold = weight === 'bold' || (typeof weight === 'number' && weight >= 600);
  return estimateTextWidth(text === null || text === undefined ? '' : String(text), size, bold);
}
