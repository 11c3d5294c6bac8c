/**
 * Whether request `index` carries a bad token: spread evenly (every 1/share-th request), not at random, so
 * that every engine (this one, the k6 scripts) sends the same share at the same places.
 */
export function carriesBadToken(index: number, badShare: number): boolean {
  if (badShare <= 0) return false;
  return Math.floor((index + 1) * badShare) > Math.floor(index * badShare);
}
