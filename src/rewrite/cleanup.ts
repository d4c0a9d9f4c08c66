/**
 * cleanup for the command line and patch files: the IR's cleanup pass (dead nodes, unread
 * initializers, optionally unread graph inputs) followed by a stable topological sort.
 */
import type { Model } from '../ir/model.js';
import { cleanup, type CleanupOptions } from '../ir/passes/cleanup.js';
import type { PassResult } from '../ir/passes/pass.js';

export type { CleanupOptions };

export function cleanupAndSort(model: Model, opts: CleanupOptions = {}): PassResult {
  const r = cleanup(model, opts);
  const before = [...model.graph.nodes];
  model.graph.toposort();
  const moved = model.graph.nodes.filter((n, i) => before[i] !== n).length;
  if (moved > 0) r.changes.push(`reordered ${moved} node${moved === 1 ? '' : 's'} into topological order`);
  if (r.changes.length === 0) r.changes.push('nothing to clean up');
  return { model, modified: r.modified || moved > 0, changes: r.changes };
}
