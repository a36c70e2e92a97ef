/** Multi-teacher coordination (ENG-8): disagreement, learning rates, and the update they imply. */
export interface TeacherConfidence {
  teacher_id: string;
  confidence: number;
}

/** What a multi-teacher round implies: the mean confidence, the disagreement and each teacher's learning rate. */
export interface MtlOutcome {
  mean: number;
  /** Population standard deviation of the confidences, float64. */
  disagreement: number;
  learningRates: Record<string, number>;
  /** Reward of the Hebbian update when an encoding is given. */
  reward: number;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Sums in the given order so every language rounds the same way. */
export function coordinate(teachers: readonly TeacherConfidence[], lrQ: number): MtlOutcome {
  const n = teachers.length;
  let sum = 0;
  for (const t of teachers) sum += t.confidence;
  const mean = sum / n;
  let sq = 0;
  for (const t of teachers) sq += (t.confidence - mean) * (t.confidence - mean);
  const disagreement = Math.sqrt(sq / n);
  const b = lrQ / 65536;
  const learningRates: Record<string, number> = {};
  for (const t of teachers) learningRates[t.teacher_id] = clamp(b * (1 + (mean - t.confidence)), 0, 1);
  return { mean, disagreement, learningRates, reward: clamp(1 - 4 * disagreement, -1, 1) };
}
