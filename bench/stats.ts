/** Small statistics for benchmark repetitions: medians, percentiles, ratios. */

export const median = (values: readonly number[]): number => percentile(values, 50);

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (rank - low);
}

export const ratio = (value: number, baseline: number): number => (baseline > 0 ? value / baseline : Number.NaN);

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
