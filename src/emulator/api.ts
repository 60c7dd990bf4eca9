// The five Files API routes: header checks, rate limit and injected faults, then the handlers.
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EmulatorCore, RouteLabel } from './core.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { checkKey, checkVersion, contractOf, DETAILS_VERSION } from './headers.js';
import { checkDeclaredLength, receiveUpload, UploadAborted } from './multipart.js';
import { dropConnection, sendError, sendJson, type Exchange } from './respond.js';
import { gaList, gaListQuery } from './paging.js';
import { toMetadata, type ListQuery } from './store.js';

/** A matched API route and its file id. */
export interface ApiRoute {
  label: Exclude<RouteLabel, 'unknown'>;
  id?: string;
}

/** Matches method and path (query string already removed; `?beta=true` plays no part). */
export function matchApiRoute(method: string, pathname: string): ApiRoute | undefined {
  if (pathname === '/v1/files') {
    if (method === 'POST') return { label: 'POST /v1/files' };
    if (method === 'GET') return { label: 'GET /v1/files' };
    return undefined;
  }
  const m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(pathname);
  if (!m?.[1]) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]);
  } catch {
    id = m[1];
  }
  if (m[2]) return method === 'GET' ? { label: 'GET /v1/files/{id}/content', id } : undefined;
  if (method === 'GET') return { label: 'GET /v1/files/{id}', id };
  if (method === 'DELETE') return { label: 'DELETE /v1/files/{id}', id };
  return undefined;
}

/**
 * Answers one API request: latency, the upload's declared size (the edge's 413), then the key,
 * version and beta checks (the files beta header
 * routes to the beta shapes, its absence to GA), then the rate limit and the injected status faults
 * (so only well-formed requests draw faults), then the route itself.
 */
export async function handleApi(core: EmulatorCore, ex: Exchange, route: ApiRoute, url: URL, signal: AbortSignal): Promise<void> {
  try {
    const latency = core.faults.latencyMs;
    if (latency > 0) await sleep(latency, undefined, { signal });
    if (route.label === 'POST /v1/files') checkDeclaredLength(ex.req, core.settings.maxFileBytes);
    checkKey(ex.req, core.settings.apiKeyDigest);
    ex.details = checkVersion(ex.req) === DETAILS_VERSION;
    ex.contract = contractOf(ex.req);
    const wait = core.rateLimiter?.take();
    if (wait !== undefined) {
      core.countFault('rate_limit');
      throw new ApiError(
        429,
        'rate_limit_error',
        'Number of requests has exceeded your rate limit for the Files API. Please try again later.',
        {
          headers: { 'retry-after': String(wait) },
        },
      );
    }
    const fault = core.faults.nextStatus();
    if (fault) {
      core.countFault(String(fault.status));
      throw injected(fault.status, fault.retryAfterSeconds);
    }
    await dispatch(core, ex, route, url);
  } catch (err) {
    if (err instanceof ApiError) return sendError(ex, err);
    if (err instanceof UploadAborted || signal.aborted) return ex.settle('aborted');
    core.logger.error('unexpected error', { route: route.label, requestId: ex.requestId, error: String(err) });
    sendError(ex, new ApiError(500, 'api_error', 'Internal server error'));
  }
}

function injected(status: 429 | 500 | 529, retryAfterSeconds: number | undefined): ApiError {
  if (status === 429) {
    return new ApiError(
      429,
      'rate_limit_error',
      'Number of request tokens has exceeded your per-minute rate limit (injected by the emulator).',
      {
        headers: { 'retry-after': String(retryAfterSeconds ?? 1) },
      },
    );
  }
  if (status === 500) return new ApiError(500, 'api_error', 'Internal server error (injected by the emulator)');
  return new ApiError(529, 'overloaded_error', 'Overloaded (injected by the emulator)');
}

async function dispatch(core: EmulatorCore, ex: Exchange, route: ApiRoute, url: URL): Promise<void> {
  const { store } = core;
  switch (route.label) {
    case 'POST /v1/files':
      return upload(core, ex);
    case 'GET /v1/files':
    case 'GET /v1/files?ids[]':
      if (ex.contract === 'ga') return sendJson(ex, 200, gaList(store, gaListQuery(url.searchParams)));
      return sendJson(ex, 200, store.list(listQuery(url.searchParams)));
    case 'GET /v1/files/{id}': {
      const file = store.get(route.id ?? '');
      if (!file) throw fileNotFound(route.id);
      return sendJson(ex, 200, toMetadata(file, ex.contract));
    }
    case 'DELETE /v1/files/{id}': {
      if (!store.delete(route.id ?? '', core.faults.deleteListLagMs)) throw fileNotFound(route.id);
      return sendJson(ex, 200, { id: route.id, type: 'file_deleted' });
    }
    case 'GET /v1/files/{id}/content':
      return download(core, ex, route.id ?? '');
  }
}

function fileNotFound(id: string | undefined): ApiError {
  return notFound(`File not found: ${JSON.stringify(id ?? '')}`);
}

/** Parses list parameters: `limit` an integer 1..1000 (default 20), at most one of the cursors. */
export function listQuery(params: URLSearchParams): ListQuery {
  const query: ListQuery = { limit: 20 };
  const limit = params.get('limit');
  if (limit !== null) {
    const n = /^\d{1,7}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= 1000)) throw badRequest('limit: Input should be an integer between 1 and 1000');
    query.limit = n;
  }
  const afterId = params.get('after_id') || undefined;
  const beforeId = params.get('before_id') || undefined;
  if (afterId !== undefined && beforeId !== undefined) throw badRequest('Only one of after_id and before_id may be given');
  if (afterId !== undefined) query.afterId = afterId;
  if (beforeId !== undefined) query.beforeId = beforeId;
  const scopeId = params.get('scope_id');
  if (scopeId !== null) query.scopeId = scopeId;
  return query;
}

async function upload(core: EmulatorCore, ex: Exchange): Promise<void> {
  const { store, settings } = core;
  const fault = core.faults.nextUpload();
  const cut = new AbortController();
  const declared = Number(ex.req.headers['content-length']);
  // A reset comes halfway through the body (or after its first chunk when the length is unknown).
  const resetAt = Number.isFinite(declared) && declared > 1 ? Math.floor(declared / 2) : 1;
  const received = await receiveUpload(ex.req, {
    maxBytes: settings.maxFileBytes,
    createSink: () => store.createSink(),
    filenames: ex.contract === 'ga' ? 'last-component' : 'as-sent',
    signal: cut.signal,
    onProgress:
      fault === 'reset'
        ? (bytes) => {
            if (bytes < resetAt || cut.signal.aborted) return;
            core.countFault('reset');
            cut.abort();
            dropConnection(ex, 'reset');
          }
        : undefined,
  });
  const expiresIn = ex.contract === 'ga' ? expiresInSeconds(received.fields.get('expires_in_seconds')) : undefined;
  if (expiresIn instanceof ApiError) {
    await received.sink.discard();
    throw expiresIn;
  }
  if (store.wouldExceedQuota(received.sink.bytes)) {
    await received.sink.discard();
    throw badRequest(
      'Storage limit exceeded: this upload would take the organization over its file storage limit. Delete files to make room.',
      'storage_quota_exceeded',
    );
  }
  const file = await store.commit(received.sink, {
    filename: received.filename,
    mime_type: received.mimeType,
    downloadable: false,
    owner: 'self',
    scope_id: null,
    ...(expiresIn !== undefined ? { expires_in_seconds: expiresIn } : {}),
  });
  if (fault === 'lost_answer') {
    core.countFault('lost_answer');
    return dropConnection(ex, 'lost');
  }
  sendJson(ex, 200, toMetadata(file, ex.contract));
}

/** Shortest and longest `expires_in_seconds` (an hour, ninety days). */
const EXPIRY_RANGE = [3600, 7_776_000] as const;

/** GA `expires_in_seconds`: undefined when absent, the number, or the 400 to answer. */
function expiresInSeconds(value: string | undefined): number | ApiError | undefined {
  if (value === undefined) return undefined;
  const n = /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(n >= EXPIRY_RANGE[0] && n <= EXPIRY_RANGE[1])) {
    return badRequest(`expires_in_seconds: must be an integer between ${EXPIRY_RANGE[0]} and ${EXPIRY_RANGE[1]}`);
  }
  return n;
}

async function download(core: EmulatorCore, ex: Exchange, id: string): Promise<void> {
  const file = core.store.get(id);
  if (!file) throw fileNotFound(id);
  if (core.store.isExpired(file)) {
    // Past expires_at the bytes are gone for good; the metadata stays (files-api.md).
    core.store.dropContent(id);
    throw notFound(`File content has expired: ${JSON.stringify(id)}`, 'file_expired');
  }
  if (!file.downloadable) {
    throw badRequest(
      'File is not downloadable: only files created by skills or the code execution tool can be downloaded.',
      'file_not_downloadable',
    );
  }
  ex.settle('200');
  ex.res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(file.size_bytes),
    'request-id': ex.requestId,
  });
  await pipeline(core.store.read(id), ex.res).catch(() => {
    // The client went away or the file vanished mid-stream: nothing more to say on this socket.
    ex.res.destroy();
  });
}
