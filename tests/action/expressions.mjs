// GitHub Actions expressions, the part our workflows and action.yml use: literals, context
// paths (names may hold '-'), ! == != < <= > >= && ||, parentheses, and the functions
// success(), failure(), cancelled(), always(), startsWith(), endsWith(), contains().
// Semantics follow GitHub's documentation: strings compare case-insensitively, values of
// different types compare as numbers, && and || return an operand, and a condition without a
// status function means success() && (condition).

const TOKEN = /\s*(?:(\d+(?:\.\d+)?)|'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_-]*)|(==|!=|<=|>=|&&|\|\||[()!<>.,[\]]))/y;

// Splits an expression into tokens: { kind: 'number'|'string'|'name'|'op', value }.
function tokenize(text) {
  const tokens = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`cannot read expression "${text}" at ${at}`);
    if (m[1] !== undefined) tokens.push({ kind: 'number', value: Number(m[1]) });
    else if (m[2] !== undefined) tokens.push({ kind: 'string', value: m[2].replace(/''/g, "'") });
    else if (m[3] !== undefined) tokens.push({ kind: 'name', value: m[3] });
    else tokens.push({ kind: 'op', value: m[4] });
  }
  return tokens;
}

const truthy = (v) => !(v === false || v === 0 || v === '' || v === null || v === undefined || Number.isNaN(v));

function toNumber(v) {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v);
  return typeof v === 'number' ? v : NaN;
}

function equal(a, b) {
  a = a === undefined ? null : a;
  b = b === undefined ? null : b;
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if (typeof a === typeof b) return a === b;
  return toNumber(a) === toNumber(b);
}

const STATUS = new Set(['success', 'failure', 'cancelled', 'always']);

// Evaluates `text` in `context` ({ github, env, steps, job, runner, ... }); job.status is
// 'success', 'failure' or 'cancelled'.
export function evaluate(text, context) {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (value) => tokens[i] && tokens[i].kind === 'op' && tokens[i].value === value;
  const expect = (value) => {
    if (!peek(value)) throw new Error(`expected "${value}" in "${text}"`);
    i++;
  };
  const status = () => (context.job && context.job.status) || 'success';
  const functions = {
    success: () => status() === 'success',
    failure: () => status() === 'failure',
    cancelled: () => status() === 'cancelled',
    always: () => true,
    startsWith: (a, b) => String(a ?? '').toLowerCase().startsWith(String(b ?? '').toLowerCase()),
    endsWith: (a, b) => String(a ?? '').toLowerCase().endsWith(String(b ?? '').toLowerCase()),
    contains: (a, b) => (Array.isArray(a) ? a.some((x) => equal(x, b))
      : String(a ?? '').toLowerCase().includes(String(b ?? '').toLowerCase())),
  };

  function primary() {
    const t = tokens[i++];
    if (!t) throw new Error(`unexpected end of "${text}"`);
    if (t.kind === 'number' || t.kind === 'string') return t.value;
    if (t.kind === 'op' && t.value === '(') {
      const v = or();
      expect(')');
      return v;
    }
    if (t.kind === 'op' && t.value === '!') return !truthy(primary());
    if (t.kind !== 'name') throw new Error(`unexpected "${t.value}" in "${text}"`);
    if (t.value === 'true') return true;
    if (t.value === 'false') return false;
    if (t.value === 'null') return null;
    if (peek('(')) {
      i++;
      const args = [];
      while (!peek(')')) {
        args.push(or());
        if (peek(',')) i++;
      }
      i++;
      const fn = functions[t.value];
      if (!fn) throw new Error(`unknown function ${t.value}() in "${text}"`);
      return fn(...args);
    }
    let value = context[t.value];
    for (;;) {
      if (peek('.')) {
        i++;
        const name = tokens[i++];
        value = value == null ? undefined : value[name.value];
      } else if (peek('[')) {
        i++;
        const key = or();
        expect(']');
        value = value == null ? undefined : value[key];
      } else {
        return value === undefined ? null : value;
      }
    }
  }
  function comparison() {
    let left = primary();
    while (peek('<') || peek('<=') || peek('>') || peek('>=')) {
      const op = tokens[i++].value;
      const right = primary();
      const [a, b] = [toNumber(left), toNumber(right)];
      left = op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
    return left;
  }
  function equality() {
    let left = comparison();
    while (peek('==') || peek('!=')) {
      const op = tokens[i++].value;
      const right = comparison();
      left = op === '==' ? equal(left, right) : !equal(left, right);
    }
    return left;
  }
  function and() {
    let left = equality();
    while (peek('&&')) {
      i++;
      const right = equality();
      left = truthy(left) ? right : left;
    }
    return left;
  }
  function or() {
    let left = and();
    while (peek('||')) {
      i++;
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  }
  const value = or();
  if (i !== tokens.length) throw new Error(`unexpected "${tokens[i].value}" in "${text}"`);
  return value;
}

// Returns true when the condition `text` (an `if:` or `post-if:`) holds; '' means success().
export function condition(text, context) {
  let body = String(text ?? '').trim();
  const wrapped = /^\$\{\{([\s\S]*)\}\}$/.exec(body);
  if (wrapped) body = wrapped[1].trim();
  if (body === '') body = 'success()';
  const usesStatus = tokenize(body).some((t, n, all) => t.kind === 'name' && STATUS.has(t.value) &&
    all[n + 1] && all[n + 1].value === '(');
  return truthy(evaluate(usesStatus ? body : `success() && (${body})`, context));
}

// Replaces each ${{ expression }} of `text` with its value ('' for null).
export function interpolate(text, context) {
  return String(text).replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expr) => {
    const v = evaluate(expr.trim(), context);
    return v === null || v === undefined ? '' : String(v);
  });
}
