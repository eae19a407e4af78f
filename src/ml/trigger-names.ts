import type { OnePixelTrigger } from './artifacts.js';

/**
 * Named trigger positions and colours, so a sweep can put `position: [top-left, center]` in a
 * matrix (matrix values are scalars) and a plot can label the result readably.
 */
export const TRIGGER_COLORS = {
  white: [255, 255, 255],
  black: [0, 0, 0],
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  cyan: [0, 255, 255],
  magenta: [255, 0, 255],
} as const satisfies Record<string, readonly [number, number, number]>;
export type TriggerColorName = keyof typeof TRIGGER_COLORS;

export const TRIGGER_POSITIONS = ['top-left', 'top-right', 'bottom-left', 'bottom-right', 'center'] as const;
export type TriggerPositionName = (typeof TRIGGER_POSITIONS)[number];

/** What a pipeline may write for one trigger: explicit numbers, names, or `"<colour>-<position>"`. */
export type TriggerDescription =
  | string
  | {
      row?: number;
      col?: number;
      position?: TriggerPositionName;
      color: [number, number, number] | TriggerColorName;
    };

export class TriggerNameError extends Error {
  override readonly name = 'TriggerNameError';
}

function positionOf(name: string, height: number, width: number): { row: number; col: number } {
  switch (name) {
    case 'top-left': return { row: 0, col: 0 };
    case 'top-right': return { row: 0, col: width - 1 };
    case 'bottom-left': return { row: height - 1, col: 0 };
    case 'bottom-right': return { row: height - 1, col: width - 1 };
    // Integer division puts the centre of an even-sized image at (16, 16) on CIFAR-10.
    case 'center': return { row: Math.floor(height / 2), col: Math.floor(width / 2) };
    default:
      throw new TriggerNameError(`unknown trigger position "${name}"; valid: ${TRIGGER_POSITIONS.join(', ')}`);
  }
}

function colorOf(color: [number, number, number] | string): [number, number, number] {
  if (Array.isArray(color)) return [color[0], color[1], color[2]];
  const named = (TRIGGER_COLORS as Record<string, readonly [number, number, number]>)[color];
  if (!named) throw new TriggerNameError(`unknown trigger colour "${color}"; valid: ${Object.keys(TRIGGER_COLORS).join(', ')}`);
  return [named[0], named[1], named[2]];
}

/** Turns a trigger description into pixel coordinates and bytes for images of the given size. */
export function resolveTrigger(description: TriggerDescription, height: number, width: number): OnePixelTrigger {
  if (typeof description === 'string') {
    const dash = description.indexOf('-');
    if (dash <= 0) {
      throw new TriggerNameError(`trigger "${description}" is not of the form <colour>-<position>, e.g. white-top-left or magenta-center`);
    }
    return { ...positionOf(description.slice(dash + 1), height, width), color: colorOf(description.slice(0, dash)) };
  }
  if (description.position !== undefined) {
    if (description.row !== undefined || description.col !== undefined) {
      throw new TriggerNameError('a trigger gives either position or row and col, not both');
    }
    return { ...positionOf(description.position, height, width), color: colorOf(description.color) };
  }
  if (description.row === undefined || description.col === undefined) {
    throw new TriggerNameError('a trigger needs row and col (or a named position)');
  }
  return { row: description.row, col: description.col, color: colorOf(description.color) };
}
