/** Learning-rate schedules, evaluated once per epoch (epoch counted from 0). */
export type LearningRateSchedule =
  | { type: 'constant' }
  | { type: 'step'; step_size: number; gamma: number }
  | { type: 'cosine' };

export function learningRateAt(base: number, epoch: number, epochs: number, schedule: LearningRateSchedule | undefined): number {
  if (!schedule || schedule.type === 'constant') return base;
  if (schedule.type === 'step') {
    if (!(schedule.step_size >= 1)) throw new RangeError(`step schedule needs step_size >= 1, got ${schedule.step_size}`);
    return base * Math.pow(schedule.gamma, Math.floor(epoch / schedule.step_size));
  }
  // Cosine annealing to 0 over the run, per epoch: the first epoch uses the full base rate.
  return epochs <= 1 ? base : 0.5 * base * (1 + Math.cos((Math.PI * epoch) / epochs));
}
