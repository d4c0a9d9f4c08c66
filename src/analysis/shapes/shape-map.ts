/**
 * The result of shape inference: a ShapeInfo per value name of the main graph.
 */
import type { Value } from '../../ir/value.js';
import { isCompleteShape } from './dims.js';
import type { ShapeInfo } from './types.js';

export class ShapeMap {
  private readonly map: Map<string, ShapeInfo>;
  /** Remarks on the run (probe substitutions, rules that disagree with declared value_info...). */
  readonly notes: string[];

  constructor(map: Map<string, ShapeInfo>, notes: string[] = []) {
    this.map = map;
    this.notes = notes;
  }

  get(v: Value | string): ShapeInfo | undefined {
    return this.map.get(typeof v === 'string' ? v : v.name);
  }

  has(v: Value | string): boolean {
    return this.map.has(typeof v === 'string' ? v : v.name);
  }

  entries(): IterableIterator<[string, ShapeInfo]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }

  /** Whether the value's shape is known with no unknown dims (symbolic ones are fine). */
  isComplete(v: Value | string): boolean {
    return isCompleteShape(this.get(v)?.shape);
  }
}
