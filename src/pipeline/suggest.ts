/** The candidate closest to `word` by edit distance, if it is close enough to be a plausible typo. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const tolerance = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= tolerance ? best : undefined;
}

/** `; did you mean "x"?` or an empty string; meant to end a message. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : `; did you mean "${match}"?`;
}

/**
 * A suggestion followed by the full list of choices, e.g.
 * `; did you mean "fetch"? Valid kinds are "fetch" and "plot"`.
 */
export function suggestionAndChoices(word: string, candidates: readonly string[], what: string): string {
  const match = closestMatch(word, candidates);
  if (candidates.length === 0) return `; there are no ${what}`;
  const list = `alid ${what} ${candidates.length === 1 ? 'is' : 'are'} ${quotedList(candidates)}`;
  return match === undefined ? `; v${list}` : `; did you mean "${match}"? V${list}`;
}

/** Optimal string alignment distance: a swap of two neighbours (`modle`) counts as one edit. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const above = rows[i - 1]!;
      let best = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      row.push(best);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** `"a", "b" and "c"`: for messages that list the valid choices. */
export function quotedList(items: readonly string[], conjunction: 'and' | 'or' = 'and'): string {
  const quoted = items.map((item) => `"${item}"`);
  if (quoted.length <= 1) return quoted.join('');
  return quoted.slice(0, -1).join(', ') + ` ${conjunction} ` + quoted[quoted.length - 1];
}
