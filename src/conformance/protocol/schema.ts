/**
 * A small schema language for the adapter protocol's messages: one definition per message gives
 * both the check the kit runs on every line an adapter writes (with the path of the first wrong
 * field and what is allowed there) and the JSON Schema shipped for implementers
 * (docs/adapter.schema.json, generated from these definitions).
 */
export type Schema =
  | { readonly kind: 'string'; readonly enum?: readonly string[]; readonly pattern?: string; readonly maxLength?: number; readonly description?: string }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number; readonly description?: string }
  | { readonly kind: 'boolean'; readonly description?: string }
  | { readonly kind: 'null' }
  | { readonly kind: 'array'; readonly items: Schema; readonly maxItems: number; readonly description?: string }
  | { readonly kind: 'object'; readonly properties: Readonly<Record<string, Schema>>; readonly required: readonly string[]; readonly open?: boolean; readonly description?: string }
  | { readonly kind: 'anyOf'; readonly options: readonly Schema[]; readonly description?: string };

const U64_PATTERN = '^(0|[1-9][0-9]{0,19})$';
const BASE64_PATTERN = '^[A-Za-z0-9+/]*={0,2}$';

/** Builders: `s.obj({ a: s.int(0, 7) }, ['a'])` and so on. */
export const s = {
  str: (description?: string): Schema => ({ kind: 'string', maxLength: 4096, ...(description === undefined ? {} : { description }) }),
  enum: (values: readonly string[], description?: string): Schema => ({ kind: 'string', enum: values, ...(description === undefined ? {} : { description }) }),
  /** An opaque handle the adapter chose. */
  handle: (of: string): Schema => ({ kind: 'string', maxLength: 128, pattern: '^.+$', description: `handle of a ${of}` }),
  /** A u64 (wrId, atomic operands, GUIDs) as a decimal string: JSON numbers lose bits past 2^53. */
  u64: (description?: string): Schema => ({ kind: 'string', pattern: U64_PATTERN, maxLength: 20, description: description ?? 'u64 as a decimal string' }),
  /** Bytes, base64-encoded. */
  bytes: (maxBytes: number): Schema => ({ kind: 'string', pattern: BASE64_PATTERN, maxLength: Math.ceil(maxBytes / 3) * 4, description: `base64, at most ${maxBytes} bytes` }),
  int: (min: number, max: number, description?: string): Schema => ({ kind: 'integer', min, max, ...(description === undefined ? {} : { description }) }),
  bool: (description?: string): Schema => ({ kind: 'boolean', ...(description === undefined ? {} : { description }) }),
  null: (): Schema => ({ kind: 'null' }),
  arr: (items: Schema, maxItems: number, description?: string): Schema => ({ kind: 'array', items, maxItems, ...(description === undefined ? {} : { description }) }),
  obj: (properties: Record<string, Schema>, required: readonly string[] = Object.keys(properties), description?: string): Schema => ({ kind: 'object', properties, required, ...(description === undefined ? {} : { description }) }),
  /** An object that may carry fields beyond those listed (device attributes, for instance). */
  openObj: (properties: Record<string, Schema>, required: readonly string[] = Object.keys(properties)): Schema => ({ kind: 'object', properties, required, open: true }),
  anyOf: (...options: Schema[]): Schema => ({ kind: 'anyOf', options }),
};

const describeValue = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
};

/** The first place `value` departs from `schema`, as "path: what is wrong; what is allowed", or null. */
export function validate(schema: Schema, value: unknown, path = '$'): string | null {
  switch (schema.kind) {
    case 'string': {
      if (typeof value !== 'string') return `${path}: expected a string, got ${describeValue(value)}`;
      if (schema.enum !== undefined && !schema.enum.includes(value)) return `${path}: ${describeValue(value)} is not one of ${schema.enum.join(', ')}`;
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${path}: a string of ${value.length} characters; at most ${schema.maxLength}`;
      if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) return `${path}: ${describeValue(value)} does not match ${schema.pattern}${schema.description === undefined ? '' : ` (${schema.description})`}`;
      return null;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return `${path}: expected an integer, got ${describeValue(value)}`;
      return value < schema.min || value > schema.max ? `${path}: ${value} is outside ${schema.min}..${schema.max}` : null;
    case 'boolean':
      return typeof value === 'boolean' ? null : `${path}: expected true or false, got ${describeValue(value)}`;
    case 'null':
      return value === null ? null : `${path}: expected null, got ${describeValue(value)}`;
    case 'array': {
      if (!Array.isArray(value)) return `${path}: expected an array, got ${describeValue(value)}`;
      if (value.length > schema.maxItems) return `${path}: ${value.length} items; at most ${schema.maxItems}`;
      for (let i = 0; i < value.length; i++) {
        const problem = validate(schema.items, value[i], `${path}[${i}]`);
        if (problem !== null) return problem;
      }
      return null;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${path}: expected an object, got ${describeValue(value)}`;
      const record = value as Record<string, unknown>;
      for (const name of schema.required) if (!(name in record)) return `${path}: the field "${name}" is missing`;
      for (const [name, field] of Object.entries(record)) {
        const property = schema.properties[name];
        if (property === undefined) {
          if (schema.open === true) continue;
          return `${path}: unexpected field "${name}"; allowed: ${Object.keys(schema.properties).join(', ') || 'none'}`;
        }
        if (field === undefined && !schema.required.includes(name)) continue;
        const problem = validate(property, field, `${path}.${name}`);
        if (problem !== null) return problem;
      }
      return null;
    }
    case 'anyOf': {
      const problems = schema.options.map((option) => validate(option, value, path));
      return problems.includes(null) ? null : problems.sort((a, b) => b!.length - a!.length)[0]!;
    }
  }
}

/** The same definition as JSON Schema (draft 2020-12), for implementers' own tooling. */
export function toJsonSchema(schema: Schema): Record<string, unknown> {
  const described = (body: Record<string, unknown>) => ('description' in schema && schema.description !== undefined ? { ...body, description: schema.description } : body);
  switch (schema.kind) {
    case 'string':
      return described({ type: 'string', ...(schema.enum === undefined ? {} : { enum: schema.enum }), ...(schema.pattern === undefined ? {} : { pattern: schema.pattern }), ...(schema.maxLength === undefined ? {} : { maxLength: schema.maxLength }) });
    case 'integer':
      return described({ type: 'integer', minimum: schema.min, maximum: schema.max });
    case 'boolean':
      return described({ type: 'boolean' });
    case 'null':
      return { type: 'null' };
    case 'array':
      return described({ type: 'array', items: toJsonSchema(schema.items), maxItems: schema.maxItems });
    case 'object':
      return described({
        type: 'object',
        properties: Object.fromEntries(Object.entries(schema.properties).map(([name, field]) => [name, toJsonSchema(field)])),
        required: schema.required,
        additionalProperties: schema.open === true,
      });
    case 'anyOf':
      return described({ anyOf: schema.options.map(toJsonSchema) });
  }
}
