// What validate.mjs and conformance.mjs share: docs/openapi.yaml loaded, its
// operations listed, and JSON Schema validators (ajv, 2020-12 dialect) for
// its response and request bodies.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = join(here, '..', '..');
export const documentPath = join(sourceDir, 'docs', 'openapi.yaml');

// The packages come from package-lock.json (scripts/test.sh runs `npm ci`);
// without them, say how to get them instead of a bare module error.
export async function need(name) {
  try {
    return await import(name);
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    console.error(`openapi: ${name} is not installed; run: (cd ${here} && npm ci --no-audit --no-fund)`);
    process.exit(2);
  }
}
const { parse: parseYaml } = await need('yaml');
const { default: Ajv2020 } = await need('ajv/dist/2020.js');
const { default: addFormats } = await need('ajv-formats');

export const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
export const roles = ['producer', 'reader', 'admin'];

export function loadDocument(path = documentPath) {
  return parseYaml(readFileSync(path, 'utf8'));
}

/// Follows an OpenAPI `$ref` ("#/components/responses/X") inside the document.
export function deref(doc, node) {
  let seen = 0;
  while (node && typeof node.$ref === 'string') {
    if (!node.$ref.startsWith('#/') || ++seen > 16) throw new Error(`cannot follow $ref ${node.$ref}`);
    node = node.$ref
      .slice(2)
      .split('/')
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((at, part) => (at === undefined ? undefined : at[part]), doc);
    if (node === undefined) throw new Error('dangling $ref');
  }
  return node;
}

/// Every operation: { id, method (upper case), path, op, roles, secured }.
export function operations(doc) {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const method of methods) {
      const op = item[method];
      if (!op) continue;
      const security = op.security ?? doc.security ?? [];
      out.push({
        id: op.operationId,
        method: method.toUpperCase(),
        path,
        op,
        roles: op['x-txrelay-roles'] ?? [],
        secured: security.length > 0,
      });
    }
  return out;
}

/// A copy of `schema` whose component references point at the schema that
/// ajv holds the components under.
function retarget(schema) {
  if (Array.isArray(schema)) return schema.map(retarget);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', 'components#/$defs/') : retarget(v);
  return out;
}

/// Compiles the document's schemas with ajv in strict mode (an unknown or
/// misspelt keyword is an error, not silently ignored) and hands out one
/// validator per schema, cached.
export function schemaValidators(doc) {
  // strictTypes: "log" would only print; make type mistakes errors too.
  const ajv = new Ajv2020({ strict: true, strictTypes: true, strictRequired: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'components', $defs: retarget(doc.components?.schemas ?? {}) });
  const cache = new Map();
  return {
    ajv,
    /// A validating function for `schema` (a schema object of the document); `where` names it in errors.
    compile(schema, where) {
      if (cache.has(schema)) return cache.get(schema);
      let fn;
      try {
        fn = ajv.compile(retarget(schema));
      } catch (err) {
        throw new Error(`${where}: ${err.message}`);
      }
      cache.set(schema, fn);
      return fn;
    },
    errorsText(fn) {
      return ajv.errorsText(fn.errors, { separator: '; ', dataVar: 'body' });
    },
  };
}

/// The media type of a Content-Type header value, without parameters.
export function mediaType(contentType) {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}
