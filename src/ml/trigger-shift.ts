import type { OnePixelTrigger, TriggerSpec } from './artifacts.js';

/** A test-time displacement of the trigger pixel: rows down and columns right (negative: up / left). */
export interface TriggerShift {
  row: number;
  col: number;
}

/** A shift that would move a trigger pixel off the image; `message` says which way and what fits. */
export class TriggerShiftError extends Error {
  override readonly name = 'TriggerShiftError';
}

/**
 * The trigger moved by exactly `shift` pixels, colour unchanged. Refuses (TriggerShiftError) a shift
 * that leaves the image rather than clamping it, because a clamped pixel would sit closer than asked
 * and a shift curve would silently flatten at the border.
 */
export function shiftTrigger(trigger: OnePixelTrigger, shift: TriggerShift, geometry: { height: number; width: number }): OnePixelTrigger {
  const row = trigger.row + shift.row;
  const col = trigger.col + shift.col;
  const problems: string[] = [];
  if (row < 0 || row >= geometry.height) problems.push(`row ${trigger.row} + ${shift.row} = ${row} (row shifts that fit: ${-trigger.row}..${geometry.height - 1 - trigger.row})`);
  if (col < 0 || col >= geometry.width) problems.push(`col ${trigger.col} + ${shift.col} = ${col} (col shifts that fit: ${-trigger.col}..${geometry.width - 1 - trigger.col})`);
  if (problems.length > 0) {
    throw new TriggerShiftError(`the shift moves the trigger pixel at (row ${trigger.row}, col ${trigger.col}) outside the ${geometry.height}x${geometry.width} image: ${problems.join(', ')}`);
  }
  return { row, col, color: trigger.color };
}

/** Every trigger of a spec (the shared one, or each per-target one) moved by the same shift. */
export function shiftTriggerSpec(spec: TriggerSpec, shift: TriggerShift, geometry: { height: number; width: number }): TriggerSpec {
  return {
    ...spec,
    ...(spec.trigger ? { trigger: shiftTrigger(spec.trigger, shift, geometry) } : {}),
    ...(spec.triggers ? { triggers: spec.triggers.map((t) => (t === null ? null : shiftTrigger(t, shift, geometry))) } : {}),
  };
}
