/** The result every pass returns: the (same, edited) model and whether anything changed. */
import type { Model } from '../model.js';

export interface PassResult {
  model: Model;
  modified: boolean;
  /** What the pass did, one line per change (for `--dry-run` style reports). */
  changes: string[];
}
