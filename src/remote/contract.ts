// The contract seam: everything that differs between beta and GA (auth, headers, paths, paging).
import { ResponseFormatError } from './errors.js';

/** Which shapes the client speaks: the beta (this module's default) or the GA contract of 2026-08-19. */
export type ContractName = 'beta' | 'ga';

/** `anthropic-version` values the client knows; `2026-10-21` switches to `Authorization: Bearer`. */
export type ApiVersion = '2023-06-01' | '2026-10-21';

/** One page of a listing, already split into its items and the cursor of the next page. */
export interface Page {
  /** The raw items (validated one by one by the caller). */
  data: unknown[];
  /** Cursor for the next request; undefined when this page is the last. */
  nextCursor: string | undefined;
}

/** Everything that depends on the contract; the rest of the client is contract-agnostic. */
export interface Contract {
  readonly name: ContractName;
  readonly apiVersion: ApiVersion;
  /** Headers sent with every request (authentication included). Never log them. */
  headers(apiKey: string): Record<string, string>;
  /** The request path for an API path such as `/v1/files`, with extra query parameters (an array repeats its key). */
  path(apiPath: string, query?: Query): string;
  /** Query parameters of a list request: the page size and the cursor from the previous page. */
  listQuery(limit: number, cursor: string | undefined): Query;
  /**
   * Query parameters of a look-up of up to MAX_LOOKUP_IDS ids (GA only: repeated `ids[]`, never with
   * `page` or `limit`); undefined when the contract has no look-up (beta).
   */
  lookupQuery(ids: readonly string[]): Query | undefined;
  /** Splits a list answer into items and the next cursor; throws ResponseFormatError on a bad shape. */
  parsePage(body: unknown): Page;
}

/** Query parameters; an array value is sent as the key repeated (`ids[]=a&ids[]=b`). */
export type Query = Record<string, string | readonly string[]>;

/** The most ids one GA look-up takes (files-api.md, "Where the API went after the beta"). */
export const MAX_LOOKUP_IDS = 100;

/** The beta header value for the Files API (files-api.md). */
export const FILES_BETA = 'files-api-2025-04-14';

/** Options of `createContract`. */
export interface ContractOptions {
  name?: ContractName;
  apiVersion?: ApiVersion;
  /** Sent as `anthropic-workspace-id` on every call (as the 1.x SDK's `workspace_id` does). */
  workspaceId?: string;
}

/** Builds the contract: beta by default (the shapes files-sync was specified against). */
export function createContract(options: ContractOptions = {}): Contract {
  const name = options.name ?? 'beta';
  const apiVersion = options.apiVersion ?? '2023-06-01';
  if (name !== 'beta' && name !== 'ga') throw new TypeError(`unknown API contract "${String(name)}"`);
  if (apiVersion !== '2023-06-01' && apiVersion !== '2026-10-21') {
    throw new TypeError(`unknown API version "${String(apiVersion)}"`);
  }
  const workspaceId = options.workspaceId;
  if (workspaceId !== undefined && !/^[\x21-\x7e]+$/.test(workspaceId)) throw new TypeError('the workspace id must be visible ASCII');
  const contract = name === 'beta' ? betaContract(apiVersion) : gaContract(apiVersion);
  if (workspaceId === undefined) return contract;
  return { ...contract, headers: (apiKey) => ({ ...contract.headers(apiKey), 'anthropic-workspace-id': workspaceId }) };
}

function authHeaders(apiVersion: ApiVersion, apiKey: string): Record<string, string> {
  // From 2026-10-21 the SDK sends the key as a bearer token; before, as x-api-key.
  return apiVersion === '2026-10-21'
    ? { authorization: `Bearer ${apiKey}`, 'anthropic-version': apiVersion }
    : { 'x-api-key': apiKey, 'anthropic-version': apiVersion };
}

function withQuery(apiPath: string, query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (typeof value === 'string') params.append(key, value);
    else for (const v of value) params.append(key, v);
  }
  const search = params.toString();
  return search === '' ? apiPath : `${apiPath}?${search}`;
}

function cursorQuery(limit: number, param: string, cursor: string | undefined): Query {
  const query: Record<string, string> = { limit: String(limit) };
  if (cursor !== undefined) query[param] = cursor;
  return query;
}

function betaContract(apiVersion: ApiVersion): Contract {
  return {
    name: 'beta',
    apiVersion,
    headers: (apiKey) => ({ ...authHeaders(apiVersion, apiKey), 'anthropic-beta': FILES_BETA }),
    // Like the SDK: `?beta=true` first; the server routes on the header and accepts both.
    path: (apiPath, query = {}) => withQuery(apiPath, { beta: 'true', ...query }),
    listQuery: (limit, cursor) => cursorQuery(limit, 'after_id', cursor),
    lookupQuery: () => undefined,
    parsePage(body) {
      const page = asObject(body, 'list answer');
      const data = page.data;
      if (!Array.isArray(data)) throw new ResponseFormatError('list answer', 'data', 'an array');
      const hasMore = page.has_more ?? false;
      if (typeof hasMore !== 'boolean') throw new ResponseFormatError('list answer', 'has_more', 'a boolean');
      const lastId = page.last_id ?? undefined;
      if (lastId !== undefined && typeof lastId !== 'string') throw new ResponseFormatError('list answer', 'last_id', 'a string or null');
      // A page that says has_more without last_id continues after its last item. An empty page
      // that says has_more has no cursor to go on with: ending the listing there (as the SDK does)
      // would take the files after it for deleted, so the listing fails instead.
      if (!hasMore) return { data, nextCursor: undefined };
      if (data.length === 0) throw new ResponseFormatError('list answer', 'data', 'a file or more when has_more is true');
      const last: unknown = data[data.length - 1];
      const fallback = typeof last === 'object' && last !== null ? (last as { id?: unknown }).id : undefined;
      const cursor = lastId ?? (typeof fallback === 'string' ? fallback : undefined);
      if (cursor === undefined) throw new ResponseFormatError('list answer', 'last_id', 'a string when has_more is true');
      return { data, nextCursor: cursor };
    },
  };
}

function gaContract(apiVersion: ApiVersion): Contract {
  return {
    name: 'ga',
    apiVersion,
    // GA: no beta header (a request that still sends it keeps receiving the beta shapes).
    headers: (apiKey) => authHeaders(apiVersion, apiKey),
    path: (apiPath, query = {}) => withQuery(apiPath, query),
    listQuery: (limit, cursor) => cursorQuery(limit, 'page', cursor),
    lookupQuery(ids) {
      const unique = [...new Set(ids)];
      if (unique.length === 0 || unique.length > MAX_LOOKUP_IDS)
        throw new RangeError(`a look-up takes 1 to ${MAX_LOOKUP_IDS} ids, not ${unique.length}`);
      return { 'ids[]': unique };
    },
    parsePage(body) {
      const page = asObject(body, 'list answer');
      const data = page.data;
      if (!Array.isArray(data)) throw new ResponseFormatError('list answer', 'data', 'an array');
      const next = page.next_page ?? undefined;
      if (next !== undefined && typeof next !== 'string') throw new ResponseFormatError('list answer', 'next_page', 'a string or null');
      // Paging goes on while next_page is given, after an empty page too, as the 1.x SDK does.
      return { data, nextCursor: next === '' ? undefined : next };
    },
  };
}

/** The value as a plain object, or a ResponseFormatError naming `what`. */
export function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ResponseFormatError(what, '(body)', 'a JSON object');
  }
  return value as Record<string, unknown>;
}
