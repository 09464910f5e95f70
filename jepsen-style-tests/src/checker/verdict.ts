/**
 * A checker's answer. `unknown` means the checker could not decide (a search ran out of budget,
 * a final read never succeeded, a node did not report): never read it as a pass.
 */
export type Verdict = 'valid' | 'invalid' | 'unknown';

/** The verdict of several checks together: any invalid makes it invalid, else any unknown. */
export function combineVerdicts(verdicts: Iterable<Verdict>): Verdict {
  let result: Verdict = 'valid';
  for (const v of verdicts) {
    if (v === 'invalid') return 'invalid';
    if (v === 'unknown') result = 'unknown';
  }
  return result;
}
