/**
 * A static scan of run-time imports: starting from some TypeScript files, follow every import that
 * survives compilation (not `import type`, not `import { type X }` lists, not `import('x')` in type
 * positions; dynamic `import()` calls and `export ... from` count) through relative specifiers,
 * and report every bare specifier reached, with the chain of files that reaches it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The run-time module specifiers of one source text. */
export function runtimeSpecifiers(source: string, fileName = 'x.ts'): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const typeOnly = c !== undefined && (c.isTypeOnly || (!c.name && c.namedBindings !== undefined && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      const typeOnly = n.isTypeOnly || (n.exportClause !== undefined && ts.isNamedExports(n.exportClause) && n.exportClause.elements.length > 0 && n.exportClause.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push(n.moduleSpecifier.text);
    } else if (ts.isCallExpression(n) && n.arguments.length > 0 && ts.isStringLiteralLike(n.arguments[0]!)) {
      const callee = n.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require')) out.push((n.arguments[0] as ts.StringLiteralLike).text);
    } else if (ts.isImportEqualsDeclaration(n) && !n.isTypeOnly && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) {
      out.push(n.moduleReference.expression.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every module specifier of one source text, type-only ones included (`import('x')` types too). */
export function allSpecifiers(source: string, fileName = 'x.ts'): string[] {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push(n.argument.literal.text);
    else if (ts.isCallExpression(n) && n.arguments.length > 0 && ts.isStringLiteralLike(n.arguments[0]!) && (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require'))) {
      out.push((n.arguments[0] as ts.StringLiteralLike).text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

export interface ReachedImport {
  specifier: string;
  /** Files from a start file to the one importing `specifier`. */
  chain: string[];
}

/** A relative specifier ('./x.js') as the .ts file it names, if it exists. */
function resolveRelative(from: string, spec: string, read: (f: string) => string | undefined): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, path.join(base, 'index.ts')];
  return candidates.find((c) => read(c) !== undefined);
}

/**
 * Every bare (package) specifier reached from `starts` through run-time imports. `read` gives a
 * file's text (undefined: no such file); by default the file system.
 */
export function reachedPackages(starts: readonly string[], read: (f: string) => string | undefined = (f) => (existsSync(f) && f.endsWith('.ts') ? readFileSync(f, 'utf8') : undefined)): ReachedImport[] {
  const seen = new Map<string, string[]>();
  const queue: string[] = [];
  for (const s of starts) {
    const f = path.resolve(s);
    if (!seen.has(f)) {
      seen.set(f, [f]);
      queue.push(f);
    }
  }
  const reached: ReachedImport[] = [];
  while (queue.length > 0) {
    const file = queue.shift()!;
    const chain = seen.get(file)!;
    const text = read(file);
    if (text === undefined) continue;
    for (const spec of runtimeSpecifiers(text, file)) {
      if (spec.startsWith('.') || spec.startsWith('/')) {
        const target = resolveRelative(file, spec, read);
        if (target === undefined) throw new Error(`${file}: cannot resolve '${spec}'`);
        if (!seen.has(target)) {
          seen.set(target, [...chain, target]);
          queue.push(target);
        }
      } else reached.push({ specifier: spec, chain });
    }
  }
  return reached;
}
