/** Statistics of the benchmark: medians over rounds, ranges, and verdicts of ratios against targets. */

/** The median of the finite values (NaN when there is none). */
export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * How much a series sampled at even steps under sustained load grew: the median of its last third over
 * the median of its middle third (1.0 = flat; NaN below three samples). The first third is left out
 * because V8 sizes the heap for the load over it. Medians, not single samples: RSS read at one instant
 * lands anywhere on the garbage collector's sawtooth, which spans 7-8% of the broker's RSS here.
 */
export function growth(xs: readonly number[]): number {
  if (xs.length < 3) return NaN;
  const third = Math.floor(xs.length / 3);
  return median(xs.slice(xs.length - third)) / median(xs.slice(third, xs.length - third));
}

/** [min, max] of the finite values. */
export function range(xs: readonly number[]): [number, number] {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length === 0 ? [NaN, NaN] : [Math.min(...s), Math.max(...s)];
}

/**
 * A target written as `>= 0.8` or `<= 1.3`: 'met', 'not met', or '-' when the ratio is unknown.
 * `sameBuild` is the control of the same run and metric (the broker over a second process of its own
 * build, 1.0 on a quiet machine): a ratio that lies within that factor of its target, on either side,
 * is 'within noise', since the run could not tell two copies of one build apart by as much.
 */
export function verdict(ratio: number, target: string, sameBuild?: number): string {
  const m = /^(>=|<=) ([0-9.]+)/.exec(target);
  if (!m || !Number.isFinite(ratio)) return '-';
  const bound = Number(m[2]);
  if (sameBuild !== undefined && sameBuild > 0) {
    const noise = Math.max(sameBuild, 1 / sameBuild);
    if (noise > 1 && ratio <= bound * noise && ratio >= bound / noise) return 'within noise';
  }
  return (m[1] === '>=' ? ratio >= bound : ratio <= bound) ? 'met' : 'not met';
}

/** A plain text table: first column left-aligned, the others right-aligned, a rule under the header. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}

export const fmt = (x: number | undefined, digits = 0): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));
