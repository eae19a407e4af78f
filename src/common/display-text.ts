/**
 * Text from user files shown in messages: control characters (which could move the cursor or
 * recolour the terminal) become visible escapes, and long values are cut, saying how long they were.
 */

/** Longest quoted value a message shows (characters of the value, before escaping). */
export const MAX_SHOWN_VALUE = 80;

// C0 and C1 controls, DEL, and the bidirectional overrides that can reorder what a terminal shows.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Escapes what a terminal would interpret, and newlines (a message is one line); tabs stay. */
export function escapeControl(text: string): string {
  return text.replace(/\n/g, '\\n').replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `text` escaped, and cut to `max` characters with a note of its full length. */
export function shortened(text: string, max = MAX_SHOWN_VALUE): string {
  if (text.length <= max) return escapeControl(text);
  return `${escapeControl(text.slice(0, max))}… (${text.length} characters)`;
}

/** A value as a message quotes it: strings in double quotes (JSON escapes), cut when long. */
export function quoteValue(value: unknown, max = MAX_SHOWN_VALUE): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return shortened(JSON.stringify(value) ?? String(value), max);
  if (value.length <= max) return escapeControl(JSON.stringify(value));
  return `${escapeControl(JSON.stringify(value.slice(0, max)).slice(0, -1))}…" (${value.length} characters)`;
}
