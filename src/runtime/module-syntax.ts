// A small JavaScript tokenizer that finds a module's export names and import statements without
// running it. V8 decides whether the code compiles; this only has to read code V8 already accepted,
// so it skips over expressions instead of parsing them. The one heuristic is the classic `/`
// ambiguity (division or regular expression), decided from the previous token.

type TokenKind = 'name' | 'punct' | 'string' | 'template' | 'number' | 'regex' | 'private';

interface Token {
  kind: TokenKind;
  /** Identifier or punctuator text; the decoded value for strings. */
  value: string;
  start: number;
  /** A line terminator separates this token from the previous one (needed for ASI). */
  newlineBefore: boolean;
}

export interface ModuleSyntax {
  /** Names the module exports, `default` included, in source order (duplicates removed). */
  exports: string[];
  /** Offsets of static `import` declarations and `export ... from` clauses. */
  importOffsets: number[];
}

/** Keywords after which an expression (so a regular expression) may start. */
const expressionKeywords = new Set([
  'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else',
  'yield', 'await', 'extends',
]);

/** Names that continue an expression across a line break (binary keyword operators). */
const operatorKeywords = new Set(['in', 'instanceof', 'of']);

/** Parenthesised heads after which a statement, not an operator, follows: `if (x) /re/.test(s)`. */
const statementHeads = new Set(['if', 'while', 'for', 'with']);

const punctuators = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '**', '<<', '>>',
];

function isIdentifierStart(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || code === 36 || code === 95 || code === 92 || code >= 0x80;
}

function isIdentifierPart(code: number): boolean {
  return isIdentifierStart(code) || (code >= 48 && code <= 57) || code === 0x200c || code === 0x200d;
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

/** Splits source into tokens, dropping comments and whitespace. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const length = source.length;
  let pos = 0;
  let newlineBefore = false;
  // Brace depth at which each open template substitution `${` started.
  const templateStack: number[] = [];
  let braceDepth = 0;
  // For each open `(`: whether the matching `)` ends a statement head (regex may follow).
  const parenStack: boolean[] = [];
  let lastParenClosedHead = false;

  const push = (kind: TokenKind, value: string, start: number): void => {
    tokens.push({ kind, value, start, newlineBefore });
    newlineBefore = false;
  };

  const regexAllowed = (): boolean => {
    const prev = tokens[tokens.length - 1];
    if (!prev) return true;
    switch (prev.kind) {
      case 'name':
        return expressionKeywords.has(prev.value);
      case 'number':
      case 'string':
      case 'template':
      case 'regex':
      case 'private':
        return false;
      case 'punct':
        if (prev.value === ')') return lastParenClosedHead;
        if (prev.value === ']') return false;
        if (prev.value === '++' || prev.value === '--') return false;
        return true;
    }
  };

  // Scans template text from `pos` (just after "`" or "}") up to "`" or "${".
  const scanTemplate = (start: number): void => {
    while (pos < length) {
      const code = source.charCodeAt(pos);
      if (code === 92) {
        pos += 2;
      } else if (code === 96) {
        pos++;
        push('template', '', start);
        return;
      } else if (code === 36 && source.charCodeAt(pos + 1) === 123) {
        pos += 2;
        push('template', '', start);
        templateStack.push(braceDepth);
        braceDepth++;
        push('punct', '${', pos - 2);
        return;
      } else {
        pos++;
      }
    }
    push('template', '', start);
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
        push('regex', '', start);
        continue;
      }
      const op = source.startsWith('/=', pos) ? '/=' : '/';
      pos += op.length;
      push('punct', op, start);
      continue;
    }
    if (code === 39 || code === 34) {
      pos++;
      let value = '';
      while (pos < length) {
        const c = source.charCodeAt(pos);
        if (c === code) { pos++; break; }
        if (c === 92) {
          value += source[pos + 1] ?? '';
          pos += 2;
          continue;
        }
        if (isLineTerminator(c)) break;
        value += source[pos];
        pos++;
      }
      push('string', value, start);
      continue;
    }
    if (code === 96) {
      pos++;
      scanTemplate(start);
      continue;
    }
    if (isIdentifierStart(code) || (code === 35 && isIdentifierStart(source.charCodeAt(pos + 1)))) {
      pos++;
      while (pos < length && isIdentifierPart(source.charCodeAt(pos))) {
        pos += source.charCodeAt(pos) === 92 ? 6 : 1;
      }
      const text = source.slice(start, pos);
      push(code === 35 ? 'private' : 'name', text, start);
      continue;
    }
    if ((code >= 48 && code <= 57) || (code === 46 && source.charCodeAt(pos + 1) >= 48 && source.charCodeAt(pos + 1) <= 57)) {
      pos++;
      while (pos < length) {
        const c = source.charCodeAt(pos);
        if (isIdentifierPart(c) || c === 46) pos++;
        else if ((c === 43 || c === 45) && /[eE]/.test(source[pos - 1] ?? '') && !/^0[xX]/.test(source.slice(start, pos))) pos++;
        else break;
      }
      push('number', source.slice(start, pos), start);
      continue;
    }
    // Punctuators.
    if (code === 123) {
      braceDepth++;
      pos++;
      push('punct', '{', start);
      continue;
    }
    if (code === 125) {
      if (templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth - 1) {
        templateStack.pop();
        braceDepth--;
        pos++;
        push('punct', '}', start);
        scanTemplate(pos);
        continue;
      }
      braceDepth--;
      pos++;
      push('punct', '}', start);
      continue;
    }
    if (code === 40) {
      const prev = tokens[tokens.length - 1];
      parenStack.push(prev !== undefined && prev.kind === 'name' && statementHeads.has(prev.value));
      pos++;
      push('punct', '(', start);
      continue;
    }
    if (code === 41) {
      lastParenClosedHead = parenStack.pop() ?? false;
      pos++;
      push('punct', ')', start);
      continue;
    }
    const op = punctuators.find((p) => source.startsWith(p, pos));
    if (op && !(op === '?.' && /[0-9]/.test(source[pos + 2] ?? ''))) {
      pos += op.length;
      push('punct', op, start);
      continue;
    }
    pos++;
    push('punct', source[start] ?? '', start);
  }
  return tokens;
}

/** Whether `token` can end an expression, so a line break after it may end a statement. */
function endsExpression(token: Token): boolean {
  if (token.kind === 'punct') return token.value === ')' || token.value === ']' || token.value === '}' || token.value === '++' || token.value === '--';
  if (token.kind === 'name') return !expressionKeywords.has(token.value) || token.value === 'this';
  return true;
}

/** Whether `token`, after a line break, starts a new statement rather than continuing one. */
function startsStatement(token: Token): boolean {
  if (token.kind === 'name') return !operatorKeywords.has(token.value);
  return token.kind === 'string' || token.kind === 'number' || token.kind === 'private' || (token.kind === 'punct' && (token.value === '{' || token.value === '++' || token.value === '--' || token.value === '!' || token.value === '~'));
}

const openers: Record<string, string> = { '{': '}', '(': ')', '[': ']', '${': '}' };

/** Reads the export names and import positions of an ES module source. */
export function scanModuleSyntax(source: string): ModuleSyntax {
  const tokens = tokenize(source);
  const exports: string[] = [];
  const importOffsets: number[] = [];
  const addExport = (name: string): void => {
    if (!exports.includes(name)) exports.push(name);
  };

  const at = (i: number): Token | undefined => tokens[i];
  const isPunct = (i: number, value: string): boolean => {
    const t = tokens[i];
    return t !== undefined && t.kind === 'punct' && t.value === value;
  };
  const isName = (i: number, value?: string): boolean => {
    const t = tokens[i];
    return t !== undefined && t.kind === 'name' && (value === undefined || t.value === value);
  };

  // Index just past the bracket group opened at `i`.
  const skipGroup = (i: number): number => {
    let depth = 0;
    for (let j = i; j < tokens.length; j++) {
      const t = tokens[j] as Token;
      if (t.kind !== 'punct') continue;
      if (t.value in openers) depth++;
      else if (t.value === '}' || t.value === ')' || t.value === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return tokens.length;
  };

  // Skips an expression starting at `i`, stopping before `,`/`;`/closing bracket at depth 0, or at a
  // line break that ends the statement (automatic semicolon insertion).
  const skipExpression = (i: number, stopAtNewline: boolean): number => {
    let j = i;
    while (j < tokens.length) {
      const t = tokens[j] as Token;
      if (j > i && stopAtNewline && t.newlineBefore && endsExpression(tokens[j - 1] as Token) && startsStatement(t)) return j;
      if (t.kind === 'punct') {
        if (t.value === ',' || t.value === ';' || t.value === '}' || t.value === ')' || t.value === ']') return j;
        if (t.value in openers) {
          j = skipGroup(j);
          continue;
        }
      }
      j++;
    }
    return j;
  };

  // Collects the names a binding pattern declares; returns the index after it.
  const readBinding = (i: number, names: string[]): number => {
    const t = at(i);
    if (!t) return i;
    if (t.kind === 'name') {
      names.push(t.value);
      return i + 1;
    }
    if (isPunct(i, '[')) {
      let j = i + 1;
      while (j < tokens.length && !isPunct(j, ']')) {
        if (isPunct(j, ',')) { j++; continue; }
        if (isPunct(j, '...')) j++;
        j = readBinding(j, names);
        if (isPunct(j, '=')) j = skipExpression(j + 1, false);
        if (isPunct(j, ',')) j++;
        else if (!isPunct(j, ']')) return skipGroup(i);
      }
      return j + 1;
    }
    if (isPunct(i, '{')) {
      let j = i + 1;
      while (j < tokens.length && !isPunct(j, '}')) {
        if (isPunct(j, '...')) {
          j = readBinding(j + 1, names);
        } else {
          const key = at(j);
          let keyEnd = j + 1;
          if (isPunct(j, '[')) keyEnd = skipGroup(j);
          if (isPunct(keyEnd, ':')) {
            j = readBinding(keyEnd + 1, names);
          } else {
            if (key && key.kind === 'name') names.push(key.value);
            j = keyEnd;
          }
        }
        if (isPunct(j, '=')) j = skipExpression(j + 1, false);
        if (isPunct(j, ',')) j++;
        else if (!isPunct(j, '}')) return skipGroup(i);
      }
      return j + 1;
    }
    return i + 1;
  };

  // `export var|let|const a = 1, { b } = c, ...`
  const readDeclarations = (i: number): void => {
    let j = i;
    for (;;) {
      const names: string[] = [];
      j = readBinding(j, names);
      names.forEach(addExport);
      if (isPunct(j, '=')) j = skipExpression(j + 1, true);
      if (!isPunct(j, ',')) return;
      j++;
    }
  };

  // `export { a, b as c, d as "e" } [from "m"]`
  const readExportList = (i: number): number => {
    let j = i + 1;
    while (j < tokens.length && !isPunct(j, '}')) {
      const local = at(j);
      let exported = local;
      if (isName(j + 1, 'as')) {
        exported = at(j + 2);
        j += 3;
      } else {
        j += 1;
      }
      if (exported && (exported.kind === 'name' || exported.kind === 'string')) addExport(exported.value);
      if (isPunct(j, ',')) j++;
    }
    return j + 1;
  };

  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === 'punct') {
      if (t.value in openers) depth++;
      else if (t.value === '}' || t.value === ')' || t.value === ']') depth--;
      continue;
    }
    if (t.kind !== 'name' || depth !== 0) continue;
    const prev = tokens[i - 1];
    if (prev && prev.kind === 'punct' && (prev.value === '.' || prev.value === '?.')) continue;

    if (t.value === 'import') {
      // Not `import(...)` (dynamic) nor `import.meta`.
      if (!isPunct(i + 1, '(') && !isPunct(i + 1, '.')) importOffsets.push(t.start);
      continue;
    }
    if (t.value !== 'export') continue;

    const next = at(i + 1);
    if (!next) break;
    if (next.kind === 'name') {
      switch (next.value) {
        case 'default':
          addExport('default');
          break;
        case 'function':
        case 'class': {
          const j = isPunct(i + 2, '*') ? i + 3 : i + 2;
          if (isName(j)) addExport((tokens[j] as Token).value);
          break;
        }
        case 'async': {
          const j = isPunct(i + 3, '*') ? i + 4 : i + 3;
          if (isName(i + 2, 'function') && isName(j)) addExport((tokens[j] as Token).value);
          break;
        }
        case 'var':
        case 'let':
        case 'const':
          readDeclarations(i + 2);
          break;
      }
      continue;
    }
    if (isPunct(i + 1, '{')) {
      const after = readExportList(i + 1);
      if (isName(after, 'from')) importOffsets.push(t.start);
      continue;
    }
    if (isPunct(i + 1, '*')) {
      // `export * from "m"` adds the other module's names, which are not known here.
      if (isName(i + 2, 'as')) {
        const alias = at(i + 3);
        if (alias && (alias.kind === 'name' || alias.kind === 'string')) addExport(alias.value);
      }
      importOffsets.push(t.start);
    }
  }
  return { exports, importOffsets };
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
