/**
 * Locates the first syntax error of a JSON text, to report "line L column C" whatever V8's message says
 * (Node 20's JSON.parse errors often give no position). Only runs after JSON.parse has failed.
 */

/** Where and why a JSON text is invalid. */
export interface JsonErrorLocation {
  line: number;
  column: number;
  reason: string;
}

class Fail {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}

function scan(t: string): void {
  let i = 0;
  const ws = () => {
    while (i < t.length && ' \t\n\r'.includes(t[i])) i++;
  };
  const fail = (reason?: string): never => {
    throw new Fail(i, reason ?? (i >= t.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(t[i])}`));
  };
  const expect = (ch: string) => {
    if (t[i] !== ch) fail(i >= t.length ? undefined : `expected ${JSON.stringify(ch)}, found ${JSON.stringify(t[i])}`);
    i++;
  };
  const string = () => {
    expect('"');
    while (i < t.length && t[i] !== '"') {
      const code = t.charCodeAt(i);
      if (code < 0x20) fail('control character in string');
      if (t[i] === '\\') {
        i++;
        if (t[i] === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(i + 1, i + 5))) fail('invalid \\u escape');
          i += 4;
        } else if (i >= t.length || !'"\\/bfnrt'.includes(t[i])) fail('invalid escape');
      }
      i++;
    }
    if (i >= t.length) fail('unterminated string');
    i++;
  };
  const value = (): void => {
    ws();
    const ch = t[i];
    if (ch === '{') {
      i++;
      ws();
      if (t[i] === '}') return void i++;
      for (;;) {
        ws();
        if (t[i] !== '"') fail(i >= t.length ? undefined : 'expected a double-quoted property name');
        string();
        ws();
        expect(':');
        value();
        ws();
        if (t[i] === ',') { i++; continue; }
        if (t[i] === '}') return void i++;
        fail(i >= t.length ? undefined : `expected "," or "}" after a property value`);
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (t[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (t[i] === ',') { i++; continue; }
        if (t[i] === ']') return void i++;
        fail(i >= t.length ? undefined : `expected "," or "]" after an array element`);
      }
    }
    if (ch === '"') return string();
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(t.slice(i, i + 400));
    if (m && m[0] !== '-' && m[0] !== '') return void (i += m[0].length);
    for (const lit of ['true', 'false', 'null']) if (t.startsWith(lit, i)) return void (i += lit.length);
    fail();
  };
  value();
  ws();
  if (i < t.length) fail('unexpected content after the JSON value');
}

/** Position and reason of the first syntax error, or undefined if the scanner finds none. */
export function locateJsonError(text: string): JsonErrorLocation | undefined {
  try {
    scan(text);
    return undefined;
  } catch (e) {
    if (!(e instanceof Fail)) throw e;
    const before = text.slice(0, e.at);
    const line = before.split('\n').length;
    const column = e.at - (before.lastIndexOf('\n') + 1) + 1;
    return { line, column, reason: e.reason };
  }
}
