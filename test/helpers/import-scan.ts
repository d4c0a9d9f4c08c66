/**
 * A static scan of the imports of a TypeScript source tree, for the architecture test: which
 * `src/` folder imports which (the layering written in docs/ARCHITECTURE.md), which packages each
 * file imports, and which packages a module loads at run time through its value imports.
 *
 * The scan reads the text (comments stripped): `import ... from 'x'`, `export ... from 'x'`,
 * `import 'x'` and `import('x')`. An import is type-only when written `import type` /
 * `export type`, when every named binding is marked `type`, or for `import('x').T` in a type
 * position; type-only imports count as arrows between folders (a dependency all the same) but
 * load nothing at run time.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ImportRef {
  /** The specifier as written. */
  readonly spec: string;
  /** True when the import loads nothing at run time. */
  readonly typeOnly: boolean;
  /** True for `import('x')`: loaded when the code runs, not when the module is imported. */
  readonly dynamic: boolean;
  /** 1-based line of the import. */
  readonly line: number;
}

export interface SourceFile {
  /** Path relative to the scanned root, with forward slashes (e.g. `ir/graph.ts`). */
  readonly rel: string;
  /** The folder under the root (`ir`), or the file's name without extension for top-level files (`errors`). */
  readonly unit: string;
  readonly imports: readonly ImportRef[];
}

/** Blank out comments, keeping line numbers (string contents are left alone). */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  let quote: string | null = null;
  while (i < text.length) {
    const c = text[i]!;
    if (quote) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === quote || (c === '\n' && quote !== '`')) quote = null;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      if (c === "'" || c === '"' || c === '`') quote = c;
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC = /\b(import|export)\s+(type\s+)?([^'";]*?)\bfrom\s*['"]([^'"]+)['"]/g;
const BARE = /\bimport\s+['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)(\s*\.\s*([A-Za-z_$][\w$]*))?/g;

/** The imports of one file's text. */
export function scanImports(text: string): ImportRef[] {
  const src = stripComments(text);
  const lineOf = (index: number): number => src.slice(0, index).split('\n').length;
  const refs: ImportRef[] = [];
  for (const m of src.matchAll(STATIC)) {
    const clause = m[3]!.trim();
    const named = /^\{([\s\S]*)\}$/.exec(clause);
    const allTypeNamed = named !== null && named[1]!.split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '));
    refs.push({ spec: m[4]!, typeOnly: m[2] !== undefined || allTypeNamed, dynamic: false, line: lineOf(m.index) });
  }
  for (const m of src.matchAll(BARE)) refs.push({ spec: m[1]!, typeOnly: false, dynamic: false, line: lineOf(m.index) });
  for (const m of src.matchAll(DYNAMIC)) {
    // `import('x').Foo` in a type position loads nothing; `import('x').then(...)` does
    const member = m[3];
    refs.push({ spec: m[1]!, typeOnly: member !== undefined && member !== 'then', dynamic: true, line: lineOf(m.index) });
  }
  return refs;
}

/** Every `.ts` file under `root` (declaration files excluded), scanned. */
export function scanTree(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) visit(p);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const rel = path.relative(root, p).split(path.sep).join('/');
        const unit = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel.replace(/\.ts$/, '');
        files.push({ rel, unit, imports: scanImports(readFileSync(p, 'utf8')) });
      }
    }
  };
  visit(root);
  return files;
}

/** The root-relative `.ts` path a relative specifier of `fromRel` names, or undefined for a package. */
export function resolveRelative(fromRel: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const joined = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), spec));
  return joined.replace(/\.js$/, '.ts');
}

/** The unit (folder or top-level file) of a root-relative path. */
export function unitOf(rel: string): string {
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel.replace(/\.ts$/, '');
}

/** The package name of a bare specifier (`@scope/name` or `name`, `node:` builtins as written). */
export function packageOf(spec: string): string {
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export interface Arrow {
  readonly from: string;
  readonly to: string;
  /** Where the arrow comes from, e.g. `ir/validate.ts:8`. */
  readonly at: string;
}

/** Arrows between different units, one per importing line. */
export function unitArrows(files: readonly SourceFile[]): Arrow[] {
  const arrows: Arrow[] = [];
  for (const f of files) {
    for (const imp of f.imports) {
      const target = resolveRelative(f.rel, imp.spec);
      if (target === undefined || target.startsWith('..')) continue;
      const to = unitOf(target);
      if (to !== f.unit) arrows.push({ from: f.unit, to, at: `${f.rel}:${imp.line}` });
    }
  }
  return arrows;
}

/** The cycles of a directed graph given as arrows (each cycle once, as a unit path). */
export function findCycles(arrows: readonly Pick<Arrow, 'from' | 'to'>[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const a of arrows) {
    if (!next.has(a.from)) next.set(a.from, new Set());
    next.get(a.from)!.add(a.to);
  }
  // Tarjan's strongly connected components; every component with more than one unit is a cycle
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) cycles.push(comp.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!idx.has(v)) strong(v);
  return cycles;
}

/**
 * The packages importing `entryRels` loads: the closure over static value imports inside the
 * tree (a dynamic `import()` loads only when its code runs), with the chain that reaches each
 * package (for the failure message).
 */
export function loadedPackages(files: readonly SourceFile[], entryRels: readonly string[]): Map<string, string[]> {
  const byRel = new Map(files.map((f) => [f.rel, f]));
  const found = new Map<string, string[]>();
  const seen = new Set<string>();
  const queue: { rel: string; chain: string[] }[] = entryRels.map((rel) => ({ rel, chain: [rel] }));
  while (queue.length > 0) {
    const { rel, chain } = queue.shift()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const f = byRel.get(rel);
    if (!f) continue;
    for (const imp of f.imports) {
      if (imp.typeOnly || imp.dynamic) continue;
      const target = resolveRelative(rel, imp.spec);
      if (target === undefined) {
        const pkg = packageOf(imp.spec);
        if (!found.has(pkg)) found.set(pkg, [...chain, imp.spec]);
      } else queue.push({ rel: target, chain: [...chain, target] });
    }
  }
  return found;
}

/** The allowed arrows as written in a ```layers block: `unit: a, b, c` per line. */
export function parseLayers(markdown: string): Map<string, Set<string>> {
  const block = /```layers\n([\s\S]*?)```/.exec(markdown);
  if (!block) throw new Error('no ```layers block found');
  const allowed = new Map<string, Set<string>>();
  for (const raw of block[1]!.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const m = /^([\w-]+):\s*(.*)$/.exec(line);
    if (!m) throw new Error(`bad layers line: ${raw}`);
    if (allowed.has(m[1]!)) throw new Error(`unit ${m[1]} listed twice`);
    allowed.set(m[1]!, new Set(m[2]!.split(',').map((s) => s.trim()).filter(Boolean)));
  }
  return allowed;
}

/** Rules no layers block may relax: unit -> units it must never import. */
export interface HardRules {
  readonly forbiddenArrows: Readonly<Record<string, readonly string[]>>;
  /** unit -> package prefixes it must never import (type-only imports included). */
  readonly forbiddenPackages: Readonly<Record<string, readonly string[]>>;
  /** package prefix -> the only units that may import it. */
  readonly packageOwners: Readonly<Record<string, readonly string[]>>;
}

/** Every layering problem of a scanned tree, one line each (empty when the tree is clean). */
export function layeringProblems(files: readonly SourceFile[], allowed: ReadonlyMap<string, ReadonlySet<string>>, hard: HardRules): string[] {
  const problems: string[] = [];
  const arrows = unitArrows(files);
  for (const [from, tos] of allowed) {
    for (const to of tos) if ((hard.forbiddenArrows[from] ?? []).includes(to) || (hard.forbiddenArrows['*'] ?? []).includes(to)) problems.push(`the layers block allows ${from} -> ${to}, which is always forbidden`);
  }
  for (const u of new Set(files.map((f) => f.unit))) if (!allowed.has(u)) problems.push(`unit ${u} is not in the layers block`);
  for (const a of arrows) {
    const hardNo = (hard.forbiddenArrows[a.from] ?? []).includes(a.to) || ((hard.forbiddenArrows['*'] ?? []).includes(a.to) && a.from !== a.to);
    if (hardNo) problems.push(`forbidden arrow ${a.from} -> ${a.to} at ${a.at}`);
    else if (allowed.has(a.from) && !allowed.get(a.from)!.has(a.to)) problems.push(`arrow ${a.from} -> ${a.to} at ${a.at} is not in docs/ARCHITECTURE.md's layers block`);
  }
  for (const cycle of findCycles(arrows)) problems.push(`cycle between folders: ${cycle.join(' <-> ')}`);
  for (const f of files) {
    for (const imp of f.imports) {
      if (imp.spec.startsWith('.')) continue;
      for (const prefix of hard.forbiddenPackages[f.unit] ?? []) if (imp.spec.startsWith(prefix)) problems.push(`${f.unit} must not import ${imp.spec} (${f.rel}:${imp.line})`);
      for (const [prefix, owners] of Object.entries(hard.packageOwners)) {
        if (imp.spec.startsWith(prefix) && !owners.includes(f.unit)) problems.push(`${imp.spec} may be imported only by ${owners.join(', ')}, not by ${f.rel}:${imp.line}`);
      }
    }
  }
  return problems;
}
