/**
 * TLA+ values as tla-checker and TLC print them, parsed into plain data, and a canonical text form
 * so that two printings of the same value compare equal. Used to read counterexample traces and
 * DOT state graphs from tla-checker, and to compare them with the TypeScript transliteration.
 *
 * Grammar (what the checkers print): integers, TRUE/FALSE, "strings", <<seq>>, {set},
 * [field |-> value, ...] (records and functions over strings), and (TLC) `a :> 1 @@ b :> 2`.
 */

export type TlaValue =
  | number
  | boolean
  | string
  | { readonly seq: readonly TlaValue[] }
  | { readonly set: readonly TlaValue[] }
  | { readonly rec: Readonly<Record<string, TlaValue>> };

export const isSeq = (v: TlaValue): v is { seq: readonly TlaValue[] } => typeof v === 'object' && 'seq' in v;
export const isSet = (v: TlaValue): v is { set: readonly TlaValue[] } => typeof v === 'object' && 'set' in v;
export const isRec = (v: TlaValue): v is { rec: Readonly<Record<string, TlaValue>> } => typeof v === 'object' && 'rec' in v;

/** The canonical text of a value: sets sorted and deduplicated, record fields sorted. */
export function canonical(v: TlaValue): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return JSON.stringify(v);
  if (isSeq(v)) return `<<${v.seq.map(canonical).join(', ')}>>`;
  if (isSet(v)) return `{${[...new Set(v.set.map(canonical))].sort().join(', ')}}`;
  const r = (v as { rec: Readonly<Record<string, TlaValue>> }).rec;
  const keys = Object.keys(r).sort();
  return `[${keys.map((k) => `${k} |-> ${canonical(r[k]!)}`).join(', ')}]`;
}

class Parser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parseAll(): TlaValue {
    const value = this.value();
    this.ws();
    if (this.pos !== this.text.length) this.fail('trailing text');
    return value;
  }

  private fail(what: string): never {
    throw new Error(`tla-value: ${what} at ${this.pos} in ${JSON.stringify(this.text.slice(Math.max(0, this.pos - 20), this.pos + 40))}`);
  }

  private ws(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private eat(token: string): boolean {
    this.ws();
    if (this.text.startsWith(token, this.pos)) {
      this.pos += token.length;
      return true;
    }
    return false;
  }

  private expect(token: string): void {
    if (!this.eat(token)) this.fail(`expected ${token}`);
  }

  /** A value, possibly a TLC function `k :> v @@ k2 :> v2`. */
  value(): TlaValue {
    const first = this.primary();
    if (!this.eat(':>')) return first;
    const fields: Record<string, TlaValue> = {};
    let key = first;
    for (;;) {
      fields[typeof key === 'string' ? key : canonical(key)] = this.primary();
      if (!this.eat('@@')) break;
      key = this.primary();
      this.expect(':>');
    }
    return { rec: fields };
  }

  private list(close: string): TlaValue[] {
    const items: TlaValue[] = [];
    if (this.eat(close)) return items;
    for (;;) {
      items.push(this.value());
      if (this.eat(close)) return items;
      this.expect(',');
    }
  }

  private primary(): TlaValue {
    this.ws();
    const c = this.text[this.pos];
    if (c === undefined) this.fail('unexpected end');
    if (this.eat('<<')) return { seq: this.list('>>') };
    if (this.eat('{')) return { set: this.list('}') };
    if (this.eat('(')) {
      const inner = this.value();
      this.expect(')');
      return inner;
    }
    if (this.eat('[')) {
      const fields: Record<string, TlaValue> = {};
      if (this.eat(']')) return { rec: fields };
      for (;;) {
        this.ws();
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
        if (m === null) this.fail('expected a field name');
        this.pos += m[0].length;
        this.expect('|->');
        fields[m[0]] = this.value();
        if (this.eat(']')) return { rec: fields };
        this.expect(',');
      }
    }
    if (c === '"') {
      let end = this.pos + 1;
      let out = '';
      while (end < this.text.length && this.text[end] !== '"') {
        if (this.text[end] === '\\') end++;
        out += this.text[end];
        end++;
      }
      if (end >= this.text.length) this.fail('unterminated string');
      this.pos = end + 1;
      return out;
    }
    const num = /^-?\d+/.exec(this.text.slice(this.pos));
    if (num !== null) {
      this.pos += num[0].length;
      return Number(num[0]);
    }
    if (this.eat('TRUE')) return true;
    if (this.eat('FALSE')) return false;
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (ident !== null) {
      // A model value: kept as its name.
      this.pos += ident[0].length;
      return ident[0];
    }
    return this.fail(`unexpected ${JSON.stringify(c)}`);
  }
}

export function parseTlaValue(text: string): TlaValue {
  return new Parser(text).parseAll();
}

/** tla-checker's typed JSON form of a value (explore_* bindings): tuples as {__tuple}, sets as arrays. */
export function fromCheckerJson(json: unknown): TlaValue {
  if (typeof json === 'number' || typeof json === 'boolean' || typeof json === 'string') return json;
  if (Array.isArray(json)) return { set: json.map(fromCheckerJson) };
  if (json !== null && typeof json === 'object') {
    if ('__tuple' in json) return { seq: (json as { __tuple: unknown[] }).__tuple.map(fromCheckerJson) };
    return { rec: Object.fromEntries(Object.entries(json).map(([k, v]) => [k, fromCheckerJson(v)])) };
  }
  throw new Error(`tla-value: cannot read checker JSON ${JSON.stringify(json)}`);
}

/** The inverse of fromCheckerJson, to hand a state back to the explore_* bindings. */
export function toCheckerJson(v: TlaValue): unknown {
  if (typeof v !== 'object') return v;
  if (isSeq(v)) return { __tuple: v.seq.map(toCheckerJson) };
  if (isSet(v)) return v.set.map(toCheckerJson);
  const r = (v as { rec: Readonly<Record<string, TlaValue>> }).rec;
  return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, toCheckerJson(x)]));
}

/** The text a checker would print (canonical order). */
export const formatTlaValue = canonical;
