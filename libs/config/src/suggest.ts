/**
 * The nearest known word within a few edits of `word` (case-insensitive, scaled to its length),
 * for "did you mean" in configuration and policy errors.
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  const scored = known
    .map((k) => ({ k, d: distance(word.toLowerCase(), k.toLowerCase()) }))
    .filter((s) => s.d <= Math.max(1, Math.floor(word.length / 3)))
    .sort((a, b) => a.d - b.d);
  return scored[0]?.k;
}

/** Edit distance counting a swap of two neighbours as one edit, since `lgo` for `log` is one slip. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}
