// A small JavaScript tokenizer that finds a module's export names and import statements without
// running it. V8 decides whether the code compiles; this only has to read code V8 already accepted,
// so it skips over expressions instead of parsing them. The one heuristic is the classic `/`
// ambiguity (division or regular expression), decided from the previous token.
//
// It runs on the main thread for every save, on up to maxCodeBytes of untrusted code, so it is
// linear, iterative where nesting is unbounded, and keeps tokens in typed arrays (no object per token).

export interface ModuleSyntax {
  /** Names the module exports, `default` included, in source order (duplicates removed). */
  exports: string[];
  /** Offsets of static `import` declarations and `export ... from` clauses. */
  importOffsets: number[];
}

const NAME = 1;
/** Punctuators without a kind of their own. */
const PUNCT = 2;
const STRING = 3;
const TEMPLATE = 4;
const NUMBER = 5;
const REGEX = 6;
const PRIVATE = 7;
// Punctuators the scan tests often get kinds of their own, so a test is one comparison.
const OPEN = 8; // { ( [ ${
const CLOSE = 9; // } ) ]
const COMMA = 10;
const SEMICOLON = 11;
const DOT = 12; // . ?.
const ASSIGN = 13; // =
const COLON = 14;
const SPREAD = 15;
const STAR = 16;

const punctuatorKinds = new Map<string, number>([
  ['{', OPEN], ['(', OPEN], ['[', OPEN], ['${', OPEN], ['}', CLOSE], [')', CLOSE], [']', CLOSE],
  [',', COMMA], [';', SEMICOLON], ['.', DOT], ['?.', DOT], ['=', ASSIGN], [':', COLON], ['...', SPREAD], ['*', STAR],
]);

/** Keywords after which an expression (so a regular expression) may start. */
const expressionKeywords = new Set([
  'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else',
  'yield', 'await', 'extends',
]);

/** Names that continue an expression across a line break (binary keyword operators). */
const operatorKeywords = new Set(['in', 'instanceof', 'of']);

/** Parenthesised heads after which a statement, not an operator, follows: `if (x) /re/.test(s)`. */
const statementHeads = new Set(['if', 'while', 'for', 'with']);

/** Multi-character punctuators by first character, longest first. */
const punctuatorsByFirst = new Map<number, string[]>();
for (const p of [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
]) {
  const list = punctuatorsByFirst.get(p.charCodeAt(0)) ?? [];
  list.push(p);
  punctuatorsByFirst.set(p.charCodeAt(0), list);
}

/** Binding patterns nested deeper than this are skipped rather than read (names there are not entry points). */
const MAX_PATTERN_DEPTH = 64;

function isIdentifierStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 36 || code === 95 || code === 92 || code >= 0x80;
}

function isIdentifierPart(code: number): boolean {
  return isIdentifierStart(code) || (code >= 48 && code <= 57);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isWhitespace(code: number): boolean {
  return (
    code === 32 || code === 9 || code === 11 || code === 12 || code === 0xa0 || code === 0xfeff || code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) || code === 0x202f || code === 0x205f || code === 0x3000
  );
}

function isLineTerminator(code: number): boolean {
  return code === 10 || code === 13 || code === 0x2028 || code === 0x2029;
}

/** Tokens as parallel arrays: kind, start and end offsets, and whether a line break precedes. */
class TokenList {
  count = 0;
  readonly kind: Uint8Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly newline: Uint8Array;

  constructor(readonly source: string) {
    // A token is at least one character, so the source length bounds the count.
    const capacity = source.length + 1;
    this.kind = new Uint8Array(capacity);
    this.start = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
    this.newline = new Uint8Array(capacity);
  }

  push(kind: number, start: number, end: number, newline: boolean): void {
    const i = this.count++;
    this.kind[i] = kind;
    this.start[i] = start;
    this.end[i] = end;
    this.newline[i] = newline ? 1 : 0;
  }

  text(i: number): string {
    return this.source.slice(this.start[i], this.end[i]);
  }

  is(i: number, kind: number, value?: string): boolean {
    if (i < 0 || i >= this.count) return false;
    const actual = this.kind[i] as number;
    if (kind === PUNCT) {
      if (actual !== PUNCT && actual < OPEN) return false;
    } else if (actual !== kind) {
      return false;
    }
    if (value === undefined) return true;
    const start = this.start[i] as number;
    return (this.end[i] as number) - start === value.length && this.source.startsWith(value, start);
  }

  /** The value of a string token, with escapes reduced to the escaped character. */
  stringValue(i: number): string {
    const raw = this.source.slice((this.start[i] as number) + 1, (this.end[i] as number) - 1);
    return raw.replace(/\\(.)/gs, '$1');
  }
}

/** Splits source into tokens, dropping comments and whitespace. */
function tokenize(source: string): TokenList {
  const tokens = new TokenList(source);
  const length = source.length;
  let pos = 0;
  let newlineBefore = false;
  // Brace depth at which each open template substitution `${` started.
  const templateStack: number[] = [];
  let braceDepth = 0;
  // For each open `(`: whether the matching `)` ends a statement head (regex may follow).
  const parenStack: boolean[] = [];
  let lastParenClosedHead = false;

  const push = (kind: number, start: number, end: number): void => {
    if (kind === PUNCT) kind = punctuatorKinds.get(source.slice(start, end)) ?? PUNCT;
    tokens.push(kind, start, end, newlineBefore);
    newlineBefore = false;
  };

  const regexAllowed = (): boolean => {
    const prev = tokens.count - 1;
    if (prev < 0) return true;
    const kind = tokens.kind[prev] as number;
    if (kind === NAME) return expressionKeywords.has(tokens.text(prev));
    if (kind === CLOSE) {
      const first = source.charCodeAt(tokens.start[prev] as number);
      if (first === 41) return lastParenClosedHead; // )
      return first === 125; // } ends a block far more often than an object literal
    }
    if (kind === PUNCT) return !(tokens.is(prev, PUNCT, '++') || tokens.is(prev, PUNCT, '--'));
    return kind >= OPEN;
  };

  // Scans template text from `pos` (just after "`" or "}") up to "`" or "${".
  const scanTemplate = (start: number): void => {
    while (pos < length) {
      const code = source.charCodeAt(pos);
      if (code === 92) {
        pos += 2;
      } else if (code === 96) {
        pos++;
        push(TEMPLATE, start, pos);
        return;
      } else if (code === 36 && source.charCodeAt(pos + 1) === 123) {
        push(TEMPLATE, start, pos);
        templateStack.push(braceDepth);
        braceDepth++;
        push(PUNCT, pos, pos + 2);
        pos += 2;
        return;
      } else {
        pos++;
      }
    }
    push(TEMPLATE, start, pos);
  };

  if (source.startsWith('#!')) {
    while (pos < length && !isLineTerminator(source.charCodeAt(pos))) pos++;
  }

  while (pos < length) {
    const code = source.charCodeAt(pos);
    if (isWhitespace(code)) {
      pos++;
      continue;
    }
    if (isLineTerminator(code)) {
      newlineBefore = true;
      pos++;
      continue;
    }
    const start = pos;
    if (code === 47) {
      const next = source.charCodeAt(pos + 1);
      if (next === 47) {
        while (pos < length && !isLineTerminator(source.charCodeAt(pos))) pos++;
        continue;
      }
      if (next === 42) {
        const end = source.indexOf('*/', pos + 2);
        const stop = end === -1 ? length : end + 2;
        for (let i = pos; i < stop; i++) if (isLineTerminator(source.charCodeAt(i))) newlineBefore = true;
        pos = stop;
        continue;
      }
      if (regexAllowed()) {
        pos++;
        let inClass = false;
        while (pos < length) {
          const c = source.charCodeAt(pos);
          if (c === 92) pos += 2;
          else if (c === 91) { inClass = true; pos++; }
          else if (c === 93) { inClass = false; pos++; }
          else if (c === 47 && !inClass) { pos++; break; }
          else if (isLineTerminator(c)) break;
          else pos++;
        }
        while (pos < length && isIdentifierPart(source.charCodeAt(pos))) pos++;
        push(REGEX, start, pos);
        continue;
      }
      pos += next === 61 ? 2 : 1;
      push(PUNCT, start, pos);
      continue;
    }
    if (code === 39 || code === 34) {
      pos++;
      while (pos < length) {
        const c = source.charCodeAt(pos);
        if (c === code) { pos++; break; }
        if (c === 92) { pos += 2; continue; }
        if (isLineTerminator(c)) break;
        pos++;
      }
      push(STRING, start, pos);
      continue;
    }
    if (code === 96) {
      pos++;
      scanTemplate(start);
      continue;
    }
    if (isIdentifierStart(code) || (code === 35 && isIdentifierStart(source.charCodeAt(pos + 1)))) {
      pos++;
      while (pos < length && isIdentifierPart(source.charCodeAt(pos))) pos++;
      push(code === 35 ? PRIVATE : NAME, start, pos);
      continue;
    }
    if (isDigit(code) || (code === 46 && isDigit(source.charCodeAt(pos + 1)))) {
      pos++;
      while (pos < length) {
        const c = source.charCodeAt(pos);
        const prev = source.charCodeAt(pos - 1);
        if (isIdentifierPart(c) || c === 46) pos++;
        // An exponent sign: 1e+5 (not in hex literals, where e is a digit).
        else if ((c === 43 || c === 45) && (prev === 101 || prev === 69) && !(source.charCodeAt(start + 1) === 120 || source.charCodeAt(start + 1) === 88)) pos++;
        else break;
      }
      push(NUMBER, start, pos);
      continue;
    }
    if (code === 123) {
      braceDepth++;
      pos++;
      push(PUNCT, start, pos);
      continue;
    }
    if (code === 125) {
      braceDepth--;
      pos++;
      push(PUNCT, start, pos);
      if (templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth) {
        templateStack.pop();
        scanTemplate(pos);
      }
      continue;
    }
    if (code === 40) {
      const prev = tokens.count - 1;
      parenStack.push(prev >= 0 && tokens.kind[prev] === NAME && statementHeads.has(tokens.text(prev)));
      pos++;
      push(PUNCT, start, pos);
      continue;
    }
    if (code === 41) {
      lastParenClosedHead = parenStack.pop() ?? false;
      pos++;
      push(PUNCT, start, pos);
      continue;
    }
    const op = punctuatorsByFirst.get(code)?.find((p) => source.startsWith(p, pos));
    // `a?.5:b` is a conditional, not optional chaining.
    if (op && !(op === '?.' && isDigit(source.charCodeAt(pos + 2)))) pos += op.length;
    else pos++;
    push(PUNCT, start, pos);
  }
  return tokens;
}

/** Reads the export names and import positions of an ES module source. */
export function scanModuleSyntax(source: string): ModuleSyntax {
  const tokens = tokenize(source);
  const count = tokens.count;
  const exports = new Set<string>();
  const importOffsets: number[] = [];

  const isPunct = (i: number, value: string): boolean => tokens.is(i, PUNCT, value);
  const isName = (i: number, value?: string): boolean => tokens.is(i, NAME, value);
  const isKind = (i: number, kind: number): boolean => i >= 0 && i < count && tokens.kind[i] === kind;
  const isOpener = (i: number): boolean => tokens.kind[i] === OPEN;
  const isCloser = (i: number): boolean => tokens.kind[i] === CLOSE;
  const exportedName = (i: number): string | undefined => {
    if (tokens.kind[i] === NAME) return tokens.text(i);
    if (tokens.kind[i] === STRING) return tokens.stringValue(i);
    return undefined;
  };

  // Index just past the bracket group opened at `i`.
  const skipGroup = (i: number): number => {
    let depth = 0;
    for (let j = i; j < count; j++) {
      if (isOpener(j)) depth++;
      else if (isCloser(j)) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return count;
  };

  /** Whether the token at `i` can end an expression, so a line break after it may end a statement. */
  const endsExpression = (i: number): boolean => {
    const kind = tokens.kind[i] as number;
    if (kind === CLOSE) return true;
    if (kind >= PUNCT && kind !== STRING && kind !== TEMPLATE && kind !== NUMBER && kind !== REGEX && kind !== PRIVATE) return isPunct(i, '++') || isPunct(i, '--');
    if (kind === NAME) return !expressionKeywords.has(tokens.text(i));
    return true;
  };

  /** Whether the token at `i`, after a line break, starts a new statement rather than continuing one. */
  const startsStatement = (i: number): boolean => {
    const kind = tokens.kind[i];
    if (kind === NAME) return !operatorKeywords.has(tokens.text(i));
    if (kind === STRING || kind === NUMBER || kind === PRIVATE) return true;
    return isPunct(i, '{') || isPunct(i, '++') || isPunct(i, '--') || isPunct(i, '!') || isPunct(i, '~');
  };

  // Skips an expression starting at `i`, stopping before `,`/`;`/closing bracket at depth 0, or at a
  // line break that ends the statement (automatic semicolon insertion).
  const skipExpression = (i: number, stopAtNewline: boolean): number => {
    let j = i;
    while (j < count) {
      if (j > i && stopAtNewline && tokens.newline[j] === 1 && endsExpression(j - 1) && startsStatement(j)) return j;
      const kind = tokens.kind[j];
      if (kind === COMMA || kind === SEMICOLON || kind === CLOSE) return j;
      if (kind === OPEN) {
        j = skipGroup(j);
        continue;
      }
      j++;
    }
    return j;
  };

  // Collects the names a binding pattern declares; returns the index after it.
  const readBinding = (i: number, names: string[], depth: number): number => {
    if (i >= count) return i;
    if (tokens.kind[i] === NAME) {
      names.push(tokens.text(i));
      return i + 1;
    }
    const array = isPunct(i, '[');
    if (!array && !isPunct(i, '{')) return i + 1;
    if (depth >= MAX_PATTERN_DEPTH) return skipGroup(i);
    const close = array ? ']' : '}';
    let j = i + 1;
    while (j < count && !isPunct(j, close)) {
      if (array) {
        if (isPunct(j, ',')) {
          j++;
          continue;
        }
        if (isPunct(j, '...')) j++;
        j = readBinding(j, names, depth + 1);
      } else if (isPunct(j, '...')) {
        j = readBinding(j + 1, names, depth + 1);
      } else {
        const keyEnd = isPunct(j, '[') ? skipGroup(j) : j + 1;
        if (isPunct(keyEnd, ':')) {
          j = readBinding(keyEnd + 1, names, depth + 1);
        } else {
          if (tokens.kind[j] === NAME) names.push(tokens.text(j));
          j = keyEnd;
        }
      }
      if (isPunct(j, '=')) j = skipExpression(j + 1, false);
      if (isPunct(j, ',')) j++;
      else if (!isPunct(j, close)) return skipGroup(i);
    }
    return j + 1;
  };

  // `export var|let|const a = 1, { b } = c, ...`
  const readDeclarations = (i: number): void => {
    let j = i;
    for (;;) {
      const names: string[] = [];
      j = readBinding(j, names, 0);
      for (const name of names) exports.add(name);
      if (isPunct(j, '=')) j = skipExpression(j + 1, true);
      if (!isPunct(j, ',')) return;
      j++;
    }
  };

  // `export { a, b as c, d as "e" } [from "m"]`; returns the index after the closing brace.
  const readExportList = (i: number): number => {
    let j = i + 1;
    while (j < count && !isPunct(j, '}')) {
      let exported = exportedName(j);
      if (isName(j + 1, 'as')) {
        exported = exportedName(j + 2);
        j += 3;
      } else {
        j += 1;
      }
      if (exported !== undefined) exports.add(exported);
      if (isPunct(j, ',')) j++;
    }
    return j + 1;
  };

  let depth = 0;
  for (let i = 0; i < count; i++) {
    const kind = tokens.kind[i];
    if (kind === OPEN) depth++;
    else if (kind === CLOSE) depth--;
    if (kind !== NAME || depth !== 0) continue;
    if (isKind(i - 1, DOT)) continue;

    if (isName(i, 'import')) {
      // Not `import(...)` (dynamic) nor `import.meta`.
      if (!isPunct(i + 1, '(') && !isPunct(i + 1, '.')) importOffsets.push(tokens.start[i] as number);
      continue;
    }
    if (!isName(i, 'export')) continue;

    if (isName(i + 1, 'default')) {
      exports.add('default');
    } else if (isName(i + 1, 'function') || isName(i + 1, 'class')) {
      const j = isPunct(i + 2, '*') ? i + 3 : i + 2;
      if (isName(j)) exports.add(tokens.text(j));
    } else if (isName(i + 1, 'async')) {
      const j = isPunct(i + 3, '*') ? i + 4 : i + 3;
      if (isName(i + 2, 'function') && isName(j)) exports.add(tokens.text(j));
    } else if (isName(i + 1, 'var') || isName(i + 1, 'let') || isName(i + 1, 'const')) {
      readDeclarations(i + 2);
    } else if (isPunct(i + 1, '{')) {
      const after = readExportList(i + 1);
      if (isName(after, 'from')) importOffsets.push(tokens.start[i] as number);
    } else if (isPunct(i + 1, '*')) {
      // `export * from "m"` adds the other module's names, which are not known here.
      if (isName(i + 2, 'as')) {
        const alias = exportedName(i + 3);
        if (alias !== undefined) exports.add(alias);
      }
      importOffsets.push(tokens.start[i] as number);
    }
  }
  return { exports: [...exports], importOffsets };
}

/** 1-based line and column of a source offset. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code === 10 || code === 0x2028 || code === 0x2029 || (code === 13 && source.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
