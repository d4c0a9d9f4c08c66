/**
 * Symbolic dimensions as polynomials with integer coefficients over atoms, written in a canonical
 * text form so that equal expressions are equal strings (`'64*batch'`, `'2*H+1'`, `'(H+1)//2'`
 * as the atom `'((H+1)//2)'`).
 *
 * Atoms are names (`batch`, `N`), names that are not plain identifiers in braces (`{batch size}`),
 * unknown dims (`?3`: a '?' marks a dim nothing is known about), and floor divisions that do not
 * simplify (`((H+1)//2)`). The same small grammar evaluates a dim for given symbol values.
 */
import { UserError } from '../../errors.js';

interface Mono {
  atoms: string[];
  c: number;
}

/** A polynomial: terms keyed by their sorted atoms ('' is the constant term). */
export type Poly = Map<string, Mono>;

const SEP = '\u0001';
const IDENT = /^[A-Za-z_?][A-Za-z0-9_.:?]*$/;

/** The atom text for a dim_param name from a model (braced when not a plain identifier). */
export function symbolForParam(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.:]*$/.test(name) ? name : `{${name.replace(/[{}]/g, '_')}}`;
}

export function constPoly(n: number): Poly {
  const p: Poly = new Map();
  if (n !== 0) p.set('', { atoms: [], c: n });
  return p;
}

export function atomPoly(atom: string): Poly {
  return new Map([[atom, { atoms: [atom], c: 1 }]]);
}

function addTerm(p: Poly, atoms: string[], c: number): void {
  if (c === 0) return;
  const key = atoms.join(SEP);
  const cur = p.get(key);
  if (!cur) p.set(key, { atoms, c });
  else if (cur.c + c === 0) p.delete(key);
  else p.set(key, { atoms, c: cur.c + c });
}

export function polyAdd(a: Poly, b: Poly, sign = 1): Poly {
  const out: Poly = new Map(a);
  for (const m of b.values()) addTerm(out, m.atoms, sign * m.c);
  return out;
}

export function polyMul(a: Poly, b: Poly): Poly {
  const out: Poly = new Map();
  for (const x of a.values()) for (const y of b.values()) addTerm(out, [...x.atoms, ...y.atoms].sort(), x.c * y.c);
  return out;
}

/** The constant value of a polynomial without atoms, else undefined. */
export function polyConst(p: Poly): number | undefined {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('')!.c;
  return undefined;
}

/** Divide mono `a` by mono `b` when b's atoms are a sub-multiset of a's and the coefficient divides. */
function monoDiv(a: Mono, b: Mono): Mono | undefined {
  if (b.c === 0 || a.c % b.c !== 0) return undefined;
  const rest = [...a.atoms];
  for (const t of b.atoms) {
    const i = rest.indexOf(t);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return { atoms: rest, c: a.c / b.c };
}

/** floor(a / b), simplified where the division is exact or splits off a multiple of b. */
export function polyFloorDiv(a: Poly, b: Poly): Poly {
  const kb = polyConst(b);
  if (kb === 0) throw new UserError('shape-division-by-zero', 'a shape computation divides by zero');
  const ka = polyConst(a);
  if (ka !== undefined && kb !== undefined) return constPoly(Math.floor(ka / kb));
  if (b.size === 1) {
    const bm = [...b.values()][0]!;
    const q: Poly = new Map();
    const rem: Poly = new Map();
    for (const m of a.values()) {
      const d = monoDiv(m, bm);
      if (d) addTerm(q, d.atoms, d.c);
      else addTerm(rem, m.atoms, m.c);
    }
    if (rem.size === 0) return q;
    const r = polyConst(rem);
    if (r !== undefined && kb !== undefined && kb > 0) return polyAdd(q, constPoly(Math.floor(r / kb)));
    if (q.size > 0 && bm.c > 0) return polyAdd(q, opaqueDiv(rem, b));
  }
  return opaqueDiv(a, b);
}

function opaqueDiv(a: Poly, b: Poly): Poly {
  return atomPoly(`(${wrap(a)}//${wrap(b)})`);
}

function wrap(p: Poly): string {
  const text = formatPoly(p);
  if (p.size === 0) return text;
  if (p.size === 1) {
    const m = [...p.values()][0]!;
    if (m.c > 0 && (m.atoms.length === 0 || (m.atoms.length === 1 && m.c === 1))) return text;
  }
  return `(${text})`;
}

function formatMono(m: Mono): string {
  if (m.atoms.length === 0) return String(m.c);
  const body = m.atoms.join('*');
  if (m.c === 1) return body;
  if (m.c === -1) return `-${body}`;
  return `${m.c}*${body}`;
}

/** Canonical text: terms sorted by their atoms, the constant last. */
export function formatPoly(p: Poly): string {
  if (p.size === 0) return '0';
  const terms = [...p.entries()].sort(([x], [y]) => (x === '' ? 1 : y === '' ? -1 : x < y ? -1 : x > y ? 1 : 0));
  let s = '';
  for (const [, m] of terms) {
    const t = formatMono(m);
    s += s === '' ? t : t.startsWith('-') ? t : `+${t}`;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Parsing (one grammar for both algebras: polynomials and plain numbers)

interface Algebra<T> {
  num(n: number): T;
  atom(text: string, name: string): T;
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  fdiv(a: T, b: T): T;
}

type Token = { k: 'num'; v: number } | { k: 'atom'; text: string; name: string } | { k: 'op'; v: string };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === ' ') {
      i++;
    } else if (ch >= '0' && ch <= '9') {
      let j = i;
      while (j < s.length && s[j]! >= '0' && s[j]! <= '9') j++;
      out.push({ k: 'num', v: Number(s.slice(i, j)) });
      i = j;
    } else if (s.startsWith('//', i)) {
      out.push({ k: 'op', v: '//' });
      i += 2;
    } else if ('+-*()'.includes(ch)) {
      out.push({ k: 'op', v: ch });
      i++;
    } else if (ch === '{') {
      const j = s.indexOf('}', i);
      if (j < 0) throw new Error(`bad dim expression '${s}'`);
      out.push({ k: 'atom', text: s.slice(i, j + 1), name: s.slice(i + 1, j) });
      i = j + 1;
    } else {
      const m = /^[A-Za-z_?][A-Za-z0-9_.:?]*/.exec(s.slice(i));
      if (!m) throw new Error(`bad dim expression '${s}'`);
      out.push({ k: 'atom', text: m[0], name: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

function parse<T>(s: string, alg: Algebra<T>): T {
  const toks = tokenize(s);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const isOp = (v: string): boolean => {
    const t = peek();
    return t !== undefined && t.k === 'op' && t.v === v;
  };
  const factor = (): T => {
    const t = toks[pos++];
    if (!t) throw new Error(`bad dim expression '${s}'`);
    if (t.k === 'num') return alg.num(t.v);
    if (t.k === 'atom') return alg.atom(t.text, t.name);
    if (t.v === '-') return alg.sub(alg.num(0), factor());
    if (t.v === '(') {
      const e = expr();
      if (!isOp(')')) throw new Error(`bad dim expression '${s}'`);
      pos++;
      return e;
    }
    throw new Error(`bad dim expression '${s}'`);
  };
  const term = (): T => {
    let v = factor();
    for (;;) {
      if (isOp('*')) {
        pos++;
        v = alg.mul(v, factor());
      } else if (isOp('//')) {
        pos++;
        v = alg.fdiv(v, factor());
      } else return v;
    }
  };
  const expr = (): T => {
    let v = term();
    for (;;) {
      if (isOp('+')) {
        pos++;
        v = alg.add(v, term());
      } else if (isOp('-')) {
        pos++;
        v = alg.sub(v, term());
      } else return v;
    }
  };
  const v = expr();
  if (pos !== toks.length) throw new Error(`bad dim expression '${s}'`);
  return v;
}

const POLY: Algebra<Poly> = {
  num: constPoly,
  atom: (text) => atomPoly(text),
  add: (a, b) => polyAdd(a, b),
  sub: (a, b) => polyAdd(a, b, -1),
  mul: polyMul,
  fdiv: polyFloorDiv,
};

/** A dim as a polynomial (a plain symbol name that is not an identifier becomes one atom). */
export function toPoly(d: number | string): Poly {
  if (typeof d === 'number') return constPoly(d);
  if (IDENT.test(d)) return atomPoly(d);
  return parse(d, POLY);
}

/** The dim for a polynomial: a number when constant. */
export function fromPoly(p: Poly): number | string {
  const k = polyConst(p);
  return k !== undefined ? k : formatPoly(p);
}

/**
 * The value of a dim for given symbol values (keys are symbol names as in the model, without
 * braces). Undefined when a symbol has no value or the dim is unknown.
 */
export function evalDim(d: number | string, bindings: Readonly<Record<string, number>>): number | undefined {
  if (typeof d === 'number') return d;
  if (Object.prototype.hasOwnProperty.call(bindings, d)) return bindings[d];
  const missing = Symbol('missing');
  const alg: Algebra<number> = {
    num: (n) => n,
    atom: (_text, name) => {
      const v = Object.prototype.hasOwnProperty.call(bindings, name) ? bindings[name] : undefined;
      if (v === undefined) throw missing;
      return v;
    },
    add: (a, b) => a + b,
    sub: (a, b) => a - b,
    mul: (a, b) => a * b,
    fdiv: (a, b) => Math.floor(a / b),
  };
  try {
    return parse(d, alg);
  } catch (e) {
    if (e === missing) return undefined;
    throw e;
  }
}
