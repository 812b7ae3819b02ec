// ctest openapi_valid: docs/openapi.yaml is a valid OpenAPI 3.1 document
// (checked against the specification's JSON Schema by
// @seriousme/openapi-schema-validator), every schema in it compiles under
// ajv's strict mode (a misspelt keyword is an error), and it keeps the
// conventions conformance.mjs relies on. Exits non-zero, listing each problem.
import {
  loadDocument,
  need,
  documentPath,
  deref,
  operations,
  roles,
  schemaValidators,
} from './openapi.mjs';

const { Validator } = await need('@seriousme/openapi-schema-validator');

const problems = [];
// An argument checks another file (the tests of this check use a broken copy).
const path = process.argv[2] ?? documentPath;
const doc = loadDocument(path);

// 1. The specification's own schema for 3.1 documents.
if (!String(doc.openapi).startsWith('3.1.')) problems.push(`openapi is ${doc.openapi}, expected 3.1.x`);
const result = await new Validator().validate(path);
if (!result.valid)
  for (const e of [].concat(result.errors ?? []))
    problems.push(`not valid OpenAPI 3.1: ${e.instancePath ?? ''} ${e.message ?? JSON.stringify(e)}`);

// 2. Every schema compiles strictly: components, parameters, bodies, headers.
let validators;
try {
  validators = schemaValidators(doc);
} catch (err) {
  problems.push(`components.schemas: ${err.message}`);
}
function compiles(schema, where) {
  if (!validators) return;
  try {
    validators.compile(schema, where);
  } catch (err) {
    problems.push(err.message);
  }
}
for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) compiles(schema, `components.schemas.${name}`);
for (const [name, p] of Object.entries(doc.components?.parameters ?? {})) compiles(p.schema, `components.parameters.${name}`);
for (const [name, h] of Object.entries(doc.components?.headers ?? {})) compiles(h.schema, `components.headers.${name}`);

// 3. Conventions: unique operation ids, a summary and description each,
//    roles named in both x-txrelay-roles and the description, and answers
//    that say what they carry.
const ids = new Set();
for (const { id, method, path, op, roles: opRoles, secured } of operations(doc)) {
  const where = `${method} ${path}`;
  if (!id) problems.push(`${where}: no operationId`);
  else if (ids.has(id)) problems.push(`${where}: operationId ${id} is used twice`);
  ids.add(id);
  if (!op.summary || !op.description) problems.push(`${where}: needs a summary and a description`);
  if (!Array.isArray(op['x-txrelay-roles'])) problems.push(`${where}: no x-txrelay-roles`);
  for (const r of opRoles) {
    if (!roles.includes(r)) problems.push(`${where}: unknown role ${r}`);
    if (!new RegExp(`\\b${r}\\b`).test(op.description ?? '')) problems.push(`${where}: its description does not name the role ${r}`);
  }
  if (secured !== opRoles.length > 0) problems.push(`${where}: security and x-txrelay-roles disagree`);
  if (secured && !op.responses?.['401']) problems.push(`${where}: secured but lists no 401`);
  const everyRole = roles.every((r) => opRoles.includes(r));
  if (secured && !everyRole && !op.responses?.['403']) problems.push(`${where}: some roles are refused but no 403 is listed`);
  if (secured && everyRole && op.responses?.['403']) problems.push(`${where}: every role may call it, yet 403 is listed`);
  for (const p of op.parameters ?? []) {
    const param = deref(doc, p);
    compiles(param.schema, `${where} parameter ${param.name}`);
  }
  if (op.requestBody)
    for (const [type, media] of Object.entries(deref(doc, op.requestBody).content ?? {}))
      compiles(media.schema ?? {}, `${where} request ${type}`);
  for (const [status, r] of Object.entries(op.responses ?? {})) {
    if (!/^[1-5]\d\d$/.test(status)) {
      problems.push(`${where}: response ${status}: list each status (no ranges, no default)`);
      continue;
    }
    const response = deref(doc, r);
    const content = response.content ?? {};
    // Only a 204 or 304 answers without a body.
    if (Object.keys(content).length === 0 && !['204', '304'].includes(status)) problems.push(`${where} ${status}: no content described`);
    for (const [type, media] of Object.entries(content)) {
      if (!media.schema) problems.push(`${where} ${status} ${type}: no schema`);
      else compiles(media.schema, `${where} ${status} ${type}`);
    }
    // Every error answer is the error object (a batch's adds items).
    const json = content['application/json']?.schema?.$ref ?? '';
    if (Number(status) >= 400 && !/\/(Error|BatchError)$/.test(json))
      problems.push(`${where} ${status}: an error answer must be Error or BatchError, not ${json || 'inline'}`);
  }
}

// 4. Answers stay open to additions (clients must ignore members they do not
//    know), and objects say which members are always there.
function walk(schema, where, visit) {
  if (schema === null || typeof schema !== 'object') return;
  visit(schema, where);
  for (const [k, v] of Object.entries(schema)) if (typeof v === 'object') walk(v, `${where}/${k}`, visit);
}
const requestOnly = new Set(['EventInput', 'BatchInput']);
for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) {
  if (requestOnly.has(name)) continue;
  walk(schema, `components.schemas.${name}`, (s, where) => {
    if (s.additionalProperties === false) problems.push(`${where}: answers leave additionalProperties open`);
    if (s.properties && !s.required && !s.allOf) problems.push(`${where}: an object without required members`);
  });
}

if (problems.length) {
  for (const p of problems) console.error(`FAIL ${p}`);
  console.error(`openapi_valid: ${problems.length} problem(s) in ${path}`);
  process.exit(1);
}
console.log(`openapi_valid: ${path} is valid OpenAPI ${doc.openapi}; ${ids.size} operations checked`);
