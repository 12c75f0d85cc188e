// Writes wire/payloads.ts, the TypeScript types of the payloads in wire/vocabulary.json, for the
// recorder and the viewer. `node wire/generate-types.mjs` writes it; `--check` only fails when
// the file is not what the vocabulary gives (both packages' builds run the check).
//
// Only what the vocabulary uses is understood: objects (properties, required,
// additionalProperties), arrays, enums of strings and the scalar types. Anything else stops
// the generator rather than come out as a wrong type.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const SOURCE = here('vocabulary.json');
const TARGET = here('payloads.ts');
const SCALARS = { string: 'string', integer: 'number', number: 'number', boolean: 'boolean', null: 'null' };

function typeOf(schema, where) {
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => typeOf({ ...schema, type }, where)).join(' | ');
  if (schema.type in SCALARS) return SCALARS[schema.type];
  if (schema.type === 'array') return `Array<${typeOf(schema.items ?? {}, `${where}[]`)}>`;
  if (schema.type === 'object') {
    if (schema.properties) return `{\n${members(schema, where, '  ')}}`;
    const values = schema.additionalProperties;
    return `Record<string, ${values && values !== true ? typeOf(values, `${where}{}`) : 'unknown'}>`;
  }
  if (Object.keys(schema).every((key) => key === 'description')) return 'unknown';
  throw new Error(`${where}: no TypeScript type for ${JSON.stringify(schema)}`);
}

const comment = (text, indent) => (text ? `${indent}/** ${text} */\n` : '');

function members(schema, where, indent) {
  const required = new Set(schema.required ?? []);
  let out = '';
  for (const [name, property] of Object.entries(schema.properties)) {
    const type = typeOf(property, `${where}.${name}`);
    // An optional field may hold undefined: JSON.stringify leaves it out, as the schema does.
    const field = required.has(name) ? `${name}: ${type}` : `${name}?: ${type} | undefined`;
    out += comment(property.description, indent) + `${indent}${field};\n`;
  }
  return out;
}

export function generate(vocabulary) {
  let out =
    '// Generated from wire/vocabulary.json by wire/generate-types.mjs: edit the vocabulary, then\n' +
    '// run `node wire/generate-types.mjs`.\n';
  for (const [key, schema] of Object.entries(vocabulary.$defs)) {
    if (schema.type !== 'object' || !schema.properties) throw new Error(`$defs.${key}: not an object with properties`);
    out += `\n${comment(schema.description, '')}export interface ${schema.title} {\n${members(schema, key, '  ')}}\n`;
  }
  return out;
}

const expected = generate(JSON.parse(readFileSync(SOURCE, 'utf8')));
if (process.argv.includes('--check')) {
  let current = null;
  try {
    current = readFileSync(TARGET, 'utf8');
  } catch {
    // Missing: out of date as well.
  }
  if (current !== expected) {
    console.error('wire/payloads.ts does not match wire/vocabulary.json: run `node wire/generate-types.mjs`');
    process.exit(1);
  }
} else {
  writeFileSync(TARGET, expected);
}
