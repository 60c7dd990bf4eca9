// Validates answers against openapi/files-beta.yaml (OpenAPI 3.0, vendored in the repo) or
// openapi/files-ga.yaml (OpenAPI 3.1, JSON Schema 2020-12), and records what an HTTP client received
// so a test can validate every JSON body it saw.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The beta contract, vendored in the repository with its licence note (openapi/README.md). */
export const OPENAPI_PATH = path.resolve(repoRoot, 'openapi', 'files-beta.yaml');

/** The GA contract (OpenAPI 3.1), written for this repository from files-api.md (openapi/README.md). */
export const OPENAPI_GA_PATH = path.resolve(repoRoot, 'openapi', 'files-ga.yaml');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns the OpenAPI 3.0 dialect into JSON Schema that ajv checks:
 * - `nullable: true` becomes a type union with `null`;
 * - a `discriminator` with a `mapping` becomes one `if type is K then $ref mapping[K]` per entry over a
 *   generic `{type, message}` shape. The spec flattens the `error` union into the properties of its
 *   first member (`enum: [invalid_request_error]`), which would refuse every other error type; an
 *   error type missing from the mapping (`request_too_large`, answered by the API's edge) is checked
 *   against the generic shape only.
 */
function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) out[key] = toJsonSchema(value);
  if (out.nullable === true) {
    delete out.nullable;
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  }
  const discriminator = out.discriminator;
  if (isObject(discriminator) && isObject(discriminator.mapping) && typeof discriminator.propertyName === 'string') {
    const prop = discriminator.propertyName;
    return {
      type: 'object',
      required: [prop, 'message'],
      properties: { [prop]: { type: 'string' }, message: { type: 'string' } },
      allOf: Object.entries(discriminator.mapping).map(([name, ref]) => ({
        if: { properties: { [prop]: { const: name } }, required: [prop] },
        then: { $ref: ref },
      })),
    };
  }
  return out;
}

/** RFC 3339 date-time (what `format: date-time` means in OpenAPI). */
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;

/**
 * The schemas of the spec, compiled. OpenAPI 3.0 documents are turned into JSON Schema (draft 7,
 * `nullable`, discriminators); 3.1 documents already are JSON Schema 2020-12 (`type: [x, "null"]`)
 * and go to ajv's 2020 dialect as they are, discriminators aside.
 */
export class OpenApiContract {
  private readonly ajv: Ajv | Ajv2020;
  private readonly paths: JsonObject;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly id: string;
  /** The schema of error answers the spec does not list (every error has the envelope). */
  private readonly errorSchema: string;
  /** The OpenAPI version the document declares (`3.0.3`, `3.1.0`). */
  readonly openapi: string;
  /** `components/responses`, for `$ref`s to them. */
  private readonly responses: Json | undefined;

  constructor(file = OPENAPI_PATH) {
    const doc = parse(readFileSync(file, 'utf8')) as JsonObject;
    this.openapi = typeof doc.openapi === 'string' ? doc.openapi : '';
    const components = isObject(doc.components) ? doc.components : {};
    this.paths = isObject(doc.paths) ? doc.paths : {};
    this.responses = components.responses;
    const is31 = this.openapi.startsWith('3.1');
    this.ajv = is31 ? new Ajv2020({ strict: false, allErrors: true }) : new Ajv({ strict: false, allErrors: true });
    this.ajv.addFormat('date-time', DATE_TIME);
    this.id = path.basename(file, path.extname(file));
    const schemas = isObject(components.schemas) ? components.schemas : {};
    this.errorSchema = 'BetaErrorResponse' in schemas ? 'BetaErrorResponse' : 'ErrorResponse';
    this.ajv.addSchema({ $id: this.id, components: toJsonSchema(components) });
  }

  /** Errors of `body` against `components/schemas/<name>` (empty: valid). */
  validate(name: string, body: unknown): string[] {
    let check = this.compiled.get(name);
    if (!check) {
      const found = this.ajv.getSchema(`${this.id}#/components/schemas/${name}`);
      if (!found) throw new Error(`no schema ${name} in the spec`);
      check = found;
      this.compiled.set(name, check);
    }
    if (check(body)) return [];
    return (check.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }

  /**
   * The schema the spec gives for an answer: the operation is found by method and path (the spec's
   * paths end in `?beta=true`, their `{file_id}` matches one segment), then the exact status, then
   * `4XX`/`5XX`. Error answers the spec does not list (5xx) use BetaErrorResponse, as files-api.md
   * says every error does. Undefined for a binary body (download).
   */
  responseSchema(method: string, pathname: string, status: number): string | undefined {
    for (const [specPath, item] of Object.entries(this.paths)) {
      const pattern = new RegExp(`^${specPath.replace(/\?beta=true$/, '').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      if (!pattern.test(pathname) || !isObject(item)) continue;
      const op = item[method.toLowerCase()];
      if (!isObject(op) || !isObject(op.responses)) continue;
      let response = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`];
      if (!isObject(response)) return status >= 400 ? this.errorSchema : undefined;
      response = this.resolve(response);
      if (!isObject(response.content)) return undefined;
      for (const media of Object.values(response.content)) {
        if (!isObject(media) || !isObject(media.schema)) continue;
        const ref = media.schema.$ref;
        if (typeof ref === 'string') return ref.split('/').pop();
      }
      return undefined;
    }
    return status >= 400 ? this.errorSchema : undefined;
  }

  /** A response object, following one `$ref` to `components/responses` (3.1 documents use them). */
  private resolve(response: JsonObject): JsonObject {
    const ref = response.$ref;
    if (typeof ref !== 'string') return response;
    const name = ref.split('/').pop() ?? '';
    const found = isObject(this.responses) ? this.responses[name] : undefined;
    return isObject(found) ? found : response;
  }
}

/** One answer a client received. */
export interface RecordedResponse {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  /** The parsed body when it was JSON. */
  json?: unknown;
}

/**
 * A `fetch` that records every answer (method, url, status, headers, JSON body) before handing it
 * on; pass it to the SDK as its `fetch` option, or call it directly.
 */
export function recordingFetch(records: RecordedResponse[]): typeof fetch {
  return async (input, init) => {
    // Not `new Request(input, init)`: that would take over a streamed body before fetch sends it.
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const response = await fetch(input, init);
    if (!/^https?:/.test(url)) return response; // the SDK probes FormData support with `data:,`
    const entry: RecordedResponse = { method, url, status: response.status, headers: response.headers };
    if ((response.headers.get('content-type') ?? '').includes('application/json')) {
      entry.json = await response.clone().json();
    }
    records.push(entry);
    return response;
  };
}

/** Validation failures of every recorded JSON answer, one line each (empty: all valid). */
export function validateRecorded(contract: OpenApiContract, records: RecordedResponse[]): string[] {
  const failures: string[] = [];
  for (const r of records) {
    const pathname = new URL(r.url).pathname;
    const schema = contract.responseSchema(r.method, pathname, r.status);
    if (r.json === undefined) {
      if (schema !== undefined) failures.push(`${r.method} ${pathname} ${r.status}: expected a JSON body (${schema})`);
      continue;
    }
    if (schema === undefined) {
      failures.push(`${r.method} ${pathname} ${r.status}: a JSON body where the spec has none`);
      continue;
    }
    for (const e of contract.validate(schema, r.json)) failures.push(`${r.method} ${pathname} ${r.status} ${schema}: ${e}`);
  }
  return failures;
}
