/**
 * A small JSON Schema (draft 2020-12) evaluator for the keywords devices/schema.json uses, so
 * that tests can run the schema itself without a dependency. It refuses any keyword it does not
 * implement, so the schema cannot hold a constraint that no test checks.
 */
type Schema = Record<string, unknown> | boolean;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const IMPLEMENTED = new Set([
  '$ref',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'enum',
  'const',
  'minimum',
  'exclusiveMinimum',
  'pattern',
  'oneOf',
  'allOf',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  if (type === 'integer') return typeof value === 'number' && Number.isInteger(value);
  return typeOf(value) === type;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class SchemaValidator {
  constructor(private readonly root: Record<string, unknown>) {
    this.checkKeywords(root);
  }

  private checkKeywords(schema: unknown): void {
    if (typeof schema !== 'object' || schema === null) return;
    for (const [key, value] of Object.entries(schema)) {
      if (!ANNOTATIONS.has(key) && !IMPLEMENTED.has(key)) throw new Error(`schema keyword '${key}' is outside the subset this evaluator checks (refused, so a profile is never passed unchecked)`);
      if (key === '$defs' || key === 'properties') for (const sub of Object.values(value as object)) this.checkKeywords(sub);
      else if (key === 'oneOf' || key === 'allOf') for (const sub of value as unknown[]) this.checkKeywords(sub);
      else if (key === 'additionalProperties' && value !== false) throw new Error('only additionalProperties: false is implemented');
    }
  }

  private resolve(ref: string): Schema {
    if (!ref.startsWith('#/')) throw new Error(`only local $ref is implemented: ${ref}`);
    let node: unknown = this.root;
    for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown>)[part];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
    return node as Schema;
  }

  /** The first error found (a JSON pointer-ish path and what failed), or null when valid. */
  validate(value: unknown, schema: Schema = this.root, path = ''): string | null {
    if (schema === true) return null;
    if (schema === false) return `${path}: false schema`;
    const s = schema;
    if (typeof s.$ref === 'string') {
      const error = this.validate(value, this.resolve(s.$ref), path);
      if (error) return error;
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => hasType(value, t))) return `${path}: type ${typeOf(value)} not in ${types.join('|')}`;
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => deepEqual(e, value))) return `${path}: not in enum`;
    if (s.const !== undefined && !deepEqual(s.const, value)) return `${path}: not the const`;
    if (typeof value === 'number') {
      if (typeof s.minimum === 'number' && value < s.minimum) return `${path}: below minimum`;
      if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) return `${path}: not above exclusiveMinimum`;
    }
    if (typeof value === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(value)) {
      return `${path}: does not match ${s.pattern}`;
    }
    if (typeOf(value) === 'object') {
      const object = value as Record<string, unknown>;
      for (const key of (s.required as string[] | undefined) ?? []) if (!(key in object)) return `${path}: missing ${key}`;
      const properties = (s.properties as Record<string, Schema> | undefined) ?? {};
      for (const [key, sub] of Object.entries(properties)) {
        if (key in object) {
          const error = this.validate(object[key], sub, `${path}/${key}`);
          if (error) return error;
        }
      }
      if (s.additionalProperties === false) {
        for (const key of Object.keys(object)) if (!(key in properties)) return `${path}/${key}: additional property`;
      }
    }
    if (Array.isArray(s.allOf)) {
      for (const sub of s.allOf as Schema[]) {
        const error = this.validate(value, sub, path);
        if (error) return error;
      }
    }
    if (Array.isArray(s.oneOf)) {
      const passing = (s.oneOf as Schema[]).filter((sub) => this.validate(value, sub, path) === null).length;
      if (passing !== 1) return `${path}: ${passing} oneOf branches match (need exactly 1)`;
    }
    return null;
  }
}
