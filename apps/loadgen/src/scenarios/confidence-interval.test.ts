import { describe, expect, it } from 'vitest';
import { meanDifferenceInterval } from './confidence-interval.js';

describe('meanDifferenceInterval', () => {
  it('gives the mean of paired differences with a Student-t 95% interval', () => {
    // mean 1, sample sd sqrt(2/3) = 0.8165, n = 4: half-width t(3) 3.182 * 0.8165 / 2 = 1.299
    expect(meanDifferenceInterval([0, 1, 2, 1])).toEqual({ mean: 1, ci95: [-0.299, 2.299] });
  });

  it('gives no interval from a single block', () => {
    expect(meanDifferenceInterval([2.5])).toEqual({ mean: 2.5, ci95: null });
  });
});
