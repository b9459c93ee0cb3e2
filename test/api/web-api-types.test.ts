import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The dashboard's API types (src/web/api.ts) are written by hand; this test holds them to the
// server's schemas as /openapi.json publishes them. The table below names, for each type the
// dashboard reads or sends, the routes it belongs to; the TypeScript compiler reads the types,
// so a field added, renamed or retyped on either side fails here rather than in a browser.

const API_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'web', 'api.ts');

interface Use {
  /** The exported type in src/web/api.ts. */
  type: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Reads the success answer (at `at`: `data`, `transformations[]`, `[]` for a bare array), or is the body sent. */
  role: 'response' | 'body';
  /** The success status whose answer is read (default 200). */
  status?: number;
  at?: string;
  /** Query parameters the dashboard sends with this call. */
  query?: string[];
}

const uses: Use[] = [
  { type: 'AccessToken', method: 'GET', path: '/accessTokens', role: 'response', at: '[]' },
  { type: 'AccessToken', method: 'GET', path: '/accessTokens/self', role: 'response' },
  { type: 'GenerateTokenInput', method: 'POST', path: '/accessTokens', role: 'body' },
  { type: 'IssuedToken', method: 'POST', path: '/accessTokens', role: 'response', at: 'data' },
  { type: 'RotateTokenInput', method: 'POST', path: '/accessTokens/{id}/rotate', role: 'body' },
  { type: 'IssuedToken', method: 'POST', path: '/accessTokens/{id}/rotate', role: 'response', at: 'data' },
  { type: 'DeletedCount', method: 'DELETE', path: '/accessTokens', role: 'response', query: ['name'] },
  { type: 'AuditEvent', method: 'GET', path: '/auditLog', role: 'response', at: '[]', query: ['limit', 'before'] },
  { type: 'Transformation', method: 'GET', path: '/transformations', role: 'response', at: 'transformations[]' },
  { type: 'TransformationWithStats', method: 'GET', path: '/transformations', role: 'response', at: 'transformations[]', query: ['include'] },
  { type: 'TransformationStats', method: 'GET', path: '/transformations/{id}/stats', role: 'response', query: ['from', 'to'] },
  { type: 'TransformationStats', method: 'GET', path: '/stats', role: 'response', query: ['from', 'to'] },
  { type: 'ReleaseState', method: 'GET', path: '/transformations/{id}/release', role: 'response' },
  { type: 'StartCanaryInput', method: 'POST', path: '/transformations/{id}/canary', role: 'body' },
  { type: 'CanaryAnswer', method: 'POST', path: '/transformations/{id}/canary', role: 'response' },
  { type: 'CanaryAnswer', method: 'POST', path: '/transformations/{id}/canary/promote', role: 'response' },
  { type: 'CanaryAnswer', method: 'DELETE', path: '/transformations/{id}/canary', role: 'response' },
  { type: 'CanaryState', method: 'POST', path: '/transformations/{id}/canary', role: 'response', at: 'canary' },
  { type: 'CanaryGuards', method: 'POST', path: '/transformations/{id}/canary', role: 'response', at: 'canary.guards' },
  { type: 'ShadowAnswer', method: 'GET', path: '/transformations/{id}/shadow', role: 'response' },
  { type: 'ShadowState', method: 'POST', path: '/transformations/{id}/shadow', role: 'response', at: 'shadow' },
  { type: 'StartShadowInput', method: 'POST', path: '/transformations/{id}/shadow', role: 'body' },
  { type: 'RecentErrors', method: 'GET', path: '/transformations/{id}/errors', role: 'response', query: ['limit'] },
  { type: 'RecentError', method: 'GET', path: '/transformations/{id}/errors', role: 'response', at: 'errors[]', query: ['limit'] },
  { type: 'Transformation', method: 'GET', path: '/transformations/{id}', role: 'response' },
  { type: 'CreateInput', method: 'POST', path: '/transformations', role: 'body', query: ['publish'] },
  { type: 'Transformation', method: 'POST', path: '/transformations', role: 'response' },
  { type: 'SaveInput', method: 'POST', path: '/transformations/{id}', role: 'body', query: ['publish'] },
  { type: 'Transformation', method: 'POST', path: '/transformations/{id}', role: 'response' },
  { type: 'TransformationVersion', method: 'GET', path: '/transformations/{id}/versions', role: 'response', at: 'TransformationVersions[]', query: ['count', 'orderBy'] },
  { type: 'TransformationVersion', method: 'GET', path: '/transformations/{id}/versions/{versionId}', role: 'response' },
  { type: 'Library', method: 'GET', path: '/libraries', role: 'response', at: 'libraries[]' },
  { type: 'Library', method: 'GET', path: '/libraries/{id}', role: 'response' },
  { type: 'CreateInput', method: 'POST', path: '/libraries', role: 'body', query: ['publish'] },
  { type: 'Library', method: 'POST', path: '/libraries', role: 'response' },
  { type: 'SaveInput', method: 'POST', path: '/libraries/{id}', role: 'body', query: ['publish'] },
  { type: 'Library', method: 'POST', path: '/libraries/{id}', role: 'response' },
  { type: 'LibraryVersion', method: 'GET', path: '/libraries/{id}/versions', role: 'response', at: 'libraryVersions[]', query: ['count', 'orderBy'] },
  { type: 'LibraryVersion', method: 'GET', path: '/libraries/{id}/versions/{versionId}', role: 'response' },
  { type: 'PublishInput', method: 'POST', path: '/transformations/libraries/publish', role: 'body' },
  { type: 'PublishInput', method: 'POST', path: '/transformations/libraries/test', role: 'body' },
  { type: 'InlineTestInput', method: 'POST', path: '/transformations/test', role: 'body' },
  { type: 'WorkspaceCredential', method: 'GET', path: '/credentials', role: 'response', at: 'credentials[]' },
  { type: 'WorkspaceCredential', method: 'GET', path: '/credentials/{id}', role: 'response' },
  { type: 'CreateCredentialInput', method: 'POST', path: '/credentials', role: 'body' },
  { type: 'WorkspaceCredential', method: 'POST', path: '/credentials', role: 'response', status: 201 },
  { type: 'UpdateCredentialInput', method: 'PATCH', path: '/credentials/{id}', role: 'body' },
  { type: 'WorkspaceCredential', method: 'PATCH', path: '/credentials/{id}', role: 'response' },
  { type: 'WorkspaceConfigSummary', method: 'GET', path: '/workspaceConfig/sources', role: 'response' },
  { type: 'DestinationsInput', method: 'PUT', path: '/transformations/{id}/destinations', role: 'body' },
  { type: 'Transformation', method: 'PUT', path: '/transformations/{id}/destinations', role: 'response' },
  { type: 'LiveEvents', method: 'GET', path: '/transformations/{id}/liveEvents', role: 'response' },
  { type: 'LiveEventSample', method: 'GET', path: '/transformations/{id}/liveEvents', role: 'response', at: 'events[]' },
  { type: 'LiveEventsInput', method: 'PUT', path: '/transformations/{id}/liveEvents', role: 'body' },
  { type: 'LiveEventsState', method: 'PUT', path: '/transformations/{id}/liveEvents', role: 'response' },
];

/** Exported types that are the dashboard's own, not a wire shape. */
const clientOnly = new Set(['Credential', 'Resource', 'ResourceKind', 'ResourceVersion', 'VersionFlag', 'RequestOptions', 'AuditPage', 'StatsWindowName']);

// ---------- one shape model for both sides ----------

type Kind = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array' | 'any';

interface Shape {
  kinds: Set<Kind>;
  /** Object properties; `open` when other keys are allowed too. */
  props: Map<string, { shape: Shape; optional: boolean }>;
  open: boolean;
  items?: Shape;
}

const emptyShape = (): Shape => ({ kinds: new Set(), props: new Map(), open: false });

function merge(into: Shape, other: Shape): Shape {
  for (const kind of other.kinds) into.kinds.add(kind);
  for (const [key, prop] of other.props) {
    const existing = into.props.get(key);
    if (existing) into.props.set(key, { shape: merge(existing.shape, prop.shape), optional: existing.optional || prop.optional });
    else into.props.set(key, prop);
  }
  into.open ||= other.open;
  if (other.items) into.items = into.items ? merge(into.items, other.items) : other.items;
  return into;
}

// The dashboard side, from the TypeScript checker.
function dashboardTypes(): Map<string, Shape> {
  const program = ts.createProgram([API_FILE], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(API_FILE);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!source || !moduleSymbol) throw new Error(`cannot read ${API_FILE}`);

  const toShape = (type: ts.Type, depth = 0): Shape => {
    const shape = emptyShape();
    if (depth > 8) return merge(shape, { ...emptyShape(), kinds: new Set(['any']) });
    for (const part of type.isUnion() ? type.types : [type]) {
      const flags = part.flags;
      if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) shape.kinds.add('any');
      else if (flags & ts.TypeFlags.StringLike) shape.kinds.add('string');
      else if (flags & ts.TypeFlags.NumberLike) shape.kinds.add('number');
      else if (flags & ts.TypeFlags.BooleanLike) shape.kinds.add('boolean');
      else if (flags & ts.TypeFlags.Null) shape.kinds.add('null');
      else if (flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)) continue;
      else if (checker.isArrayType(part)) {
        shape.kinds.add('array');
        const element = checker.getTypeArguments(part as ts.TypeReference)[0];
        if (element) merge((shape.items ??= emptyShape()), toShape(element, depth + 1));
      } else if (flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) {
        shape.kinds.add('object');
        for (const property of checker.getPropertiesOfType(part)) {
          const optional = (property.flags & ts.SymbolFlags.Optional) !== 0;
          shape.props.set(property.name, { shape: toShape(checker.getTypeOfSymbolAtLocation(property, source), depth + 1), optional });
        }
      } else throw new Error(`api.ts: no JSON reading of type ${checker.typeToString(part)}`);
    }
    return shape;
  };

  const types = new Map<string, Shape>();
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    if (!(symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias))) continue;
    types.set(symbol.name, clientOnly.has(symbol.name) ? emptyShape() : toShape(checker.getDeclaredTypeOfSymbol(symbol)));
  }
  return types;
}

// The server side, from a JSON schema in the OpenAPI document.
interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  nullable?: boolean;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}
interface Operation {
  parameters?: { in: string; name: string }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>;
}

function schemaShape(doc: OpenApi, schema: JsonSchema | undefined, depth = 0): Shape {
  const shape = emptyShape();
  if (!schema || depth > 12) return merge(shape, { ...emptyShape(), kinds: new Set(['any']) });
  if (schema.$ref) return schemaShape(doc, doc.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')], depth + 1);
  const variants = schema.anyOf ?? schema.oneOf;
  if (variants) for (const variant of variants) merge(shape, schemaShape(doc, variant, depth + 1));
  for (const part of schema.allOf ?? []) merge(shape, schemaShape(doc, part, depth + 1));
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length === 0 && schema.properties) types.push('object');
  if (types.length === 0 && schema.items) types.push('array');
  if (types.length === 0 && !variants && !schema.allOf) shape.kinds.add('any');
  for (const type of types) shape.kinds.add(type === 'integer' ? 'number' : (type as Kind));
  if (schema.nullable) shape.kinds.add('null');
  if (types.includes('object')) {
    const required = new Set(schema.required ?? []);
    for (const [key, value] of Object.entries(schema.properties ?? {})) shape.props.set(key, { shape: schemaShape(doc, value, depth + 1), optional: !required.has(key) });
    shape.open ||= schema.additionalProperties !== undefined && schema.additionalProperties !== false;
    shape.open ||= !schema.properties;
  }
  if (types.includes('array')) shape.items = schemaShape(doc, schema.items, depth + 1);
  return shape;
}

// ---------- the two directions of compatibility ----------

const listed = (shape: Shape) => [...shape.kinds].join(' | ') || 'nothing';

/** The dashboard reads what the server sends: every field it declares is sent, with a type it accepts. */
function checkReadable(dashboard: Shape, server: Shape, at: string, problems: string[]): void {
  if (dashboard.kinds.has('any') || server.kinds.has('any')) return;
  for (const kind of server.kinds) if (!dashboard.kinds.has(kind)) problems.push(`${at}: the server may send ${kind}, the dashboard type allows ${listed(dashboard)}`);
  if (dashboard.kinds.has('object') && server.kinds.has('object')) {
    for (const [key, prop] of dashboard.props) {
      const sent = server.props.get(key);
      if (!sent) {
        if (!server.open) problems.push(`${at}.${key}: declared by the dashboard, not in the server's answer`);
        continue;
      }
      if (sent.optional && !prop.optional) problems.push(`${at}.${key}: the server may leave it out, the dashboard type requires it`);
      checkReadable(prop.shape, sent.shape, `${at}.${key}`, problems);
    }
  }
  if (dashboard.items && server.items) checkReadable(dashboard.items, server.items, `${at}[]`, problems);
}

/** The server accepts what the dashboard sends: every field is in the body schema, and required ones are always sent. */
function checkSendable(dashboard: Shape, server: Shape, at: string, problems: string[]): void {
  if (dashboard.kinds.has('any') || server.kinds.has('any')) return;
  for (const kind of dashboard.kinds) if (!server.kinds.has(kind)) problems.push(`${at}: the dashboard may send ${kind}, the server accepts ${listed(server)}`);
  if (dashboard.kinds.has('object') && server.kinds.has('object')) {
    for (const [key, prop] of dashboard.props) {
      const accepted = server.props.get(key);
      if (!accepted) {
        if (!server.open) problems.push(`${at}.${key}: sent by the dashboard, not in the server's body schema`);
        continue;
      }
      checkSendable(prop.shape, accepted.shape, `${at}.${key}`, problems);
    }
    for (const [key, prop] of server.props) {
      if (!prop.optional && dashboard.props.get(key)?.optional !== false) problems.push(`${at}.${key}: required by the server, optional or missing in the dashboard type`);
    }
  }
  if (dashboard.items && server.items) checkSendable(dashboard.items, server.items, `${at}[]`, problems);
}

function jsonSchemaAt(schema: JsonSchema | undefined, at: string | undefined): JsonSchema | undefined {
  let current = schema;
  for (const step of (at ?? '').split('.').filter(Boolean)) {
    const key = step.endsWith('[]') ? step.slice(0, -2) : step;
    if (key) current = current?.properties?.[key];
    if (step.endsWith('[]')) current = current?.items;
  }
  return current;
}

/** Every mismatch between the table's types and the document, in words. */
function compare(doc: OpenApi, types: Map<string, Shape>): string[] {
  const problems: string[] = [];
  for (const use of uses) {
    const name = `${use.type} (${use.method} ${use.path}${use.at ? ` ${use.at}` : ''})`;
    const operation = doc.paths[use.path]?.[use.method.toLowerCase()];
    const dashboard = types.get(use.type);
    if (!operation) {
      problems.push(`${name}: the server has no such route`);
      continue;
    }
    if (!dashboard) {
      problems.push(`${name}: src/web/api.ts exports no type ${use.type}`);
      continue;
    }
    const parameters = new Set((operation.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name));
    for (const key of use.query ?? []) if (!parameters.has(key)) problems.push(`${name}: the server takes no query parameter ${key}`);
    const found: string[] = [];
    if (use.role === 'body') {
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      if (!schema) found.push(`${use.type}: the route declares no JSON body`);
      else checkSendable(dashboard, schemaShape(doc, schema), use.type, found);
    } else {
      const status = String(use.status ?? 200);
      const schema = jsonSchemaAt(operation.responses?.[status]?.content?.['application/json']?.schema, use.at);
      if (!schema) found.push(`${use.type}: the route declares no ${status} schema at "${use.at ?? ''}"`);
      else checkReadable(dashboard, schemaShape(doc, schema), use.type, found);
    }
    problems.push(...found.map((problem) => `${use.method} ${use.path}: ${problem}`));
  }
  return problems;
}

let server: TestServer;
let doc: OpenApi;
let types: Map<string, Shape>;

beforeAll(async () => {
  server = await startTestServer();
  doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApi;
  types = dashboardTypes();
});

afterAll(async () => {
  await server?.close();
});

describe('the dashboard API types against /openapi.json', () => {
  it('every wire type in src/web/api.ts is in the table', () => {
    const inTable = new Set(uses.map((use) => use.type));
    const unchecked = [...types.keys()].filter((name) => !clientOnly.has(name) && !inTable.has(name));
    expect(unchecked, 'add each to `uses` (or to `clientOnly` if it never crosses the wire)').toEqual([]);
  });

  it('every field the dashboard reads is answered, and every body it sends is accepted', () => {
    expect(compare(doc, types)).toEqual([]);
  });

  it('notices a field the server stops sending and a body field it starts requiring', () => {
    const changed = structuredClone(doc);
    const library = jsonSchemaAt(changed.paths['/libraries']?.get?.responses?.['200']?.content?.['application/json']?.schema, 'libraries[]');
    delete library?.properties?.importName;
    const rotate = changed.paths['/accessTokens/{id}/rotate']?.post?.requestBody?.content?.['application/json']?.schema;
    if (rotate) rotate.required = ['gracePeriodSeconds', 'reason'];
    if (rotate?.properties) rotate.properties.reason = { type: 'string' };
    const token = jsonSchemaAt(changed.paths['/accessTokens']?.get?.responses?.['200']?.content?.['application/json']?.schema, '[]');
    if (token?.properties?.name) token.properties.name = { type: 'string', nullable: true };
    // A 201 answer is read too (POST /credentials).
    const credential = changed.paths['/credentials']?.post?.responses?.['201']?.content?.['application/json']?.schema;
    delete credential?.properties?.isSecret;
    expect(compare(changed, types)).toEqual([
      'GET /accessTokens: AccessToken.name: the server may send null, the dashboard type allows string',
      'POST /accessTokens/{id}/rotate: RotateTokenInput.reason: required by the server, optional or missing in the dashboard type',
      "GET /libraries: Library.importName: declared by the dashboard, not in the server's answer",
      "POST /credentials: WorkspaceCredential.isSecret: declared by the dashboard, not in the server's answer",
    ]);
  });
});
