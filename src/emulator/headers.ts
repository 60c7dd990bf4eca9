// Request header checks of the API routes: the key, `anthropic-version` and `anthropic-beta`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest } from './errors.js';

/** The beta that turns the Files API on. */
export const FILES_BETA = 'files-api-2025-04-14';

/**
 * Beta names the API knows (the `AnthropicBeta` enum of files-beta.yaml, plus the betas SDK
 * 0.121.0 adds for OAuth and workload identity); any other name is a 400.
 */
export const KNOWN_BETAS: ReadonlySet<string> = new Set([
  'message-batches-2024-09-24',
  'prompt-caching-2024-07-31',
  'computer-use-2024-10-22',
  'computer-use-2025-01-24',
  'pdfs-2024-09-25',
  'token-counting-2024-11-01',
  'token-efficient-tools-2025-02-19',
  'output-128k-2025-02-19',
  FILES_BETA,
  'mcp-client-2025-04-04',
  'mcp-client-2025-11-20',
  'dev-full-thinking-2025-05-14',
  'interleaved-thinking-2025-05-14',
  'code-execution-2025-05-22',
  'extended-cache-ttl-2025-04-11',
  'context-1m-2025-08-07',
  'context-management-2025-06-27',
  'model-context-window-exceeded-2025-08-26',
  'skills-2025-10-02',
  'fast-mode-2026-02-01',
  'output-300k-2026-03-24',
  'user-profiles-2026-03-24',
  'advisor-tool-2026-03-01',
  'managed-agents-2026-04-01',
  'cache-diagnosis-2026-04-07',
  'thinking-token-count-2026-05-13',
  'server-side-fallback-2026-06-01',
  'fallback-credit-2026-06-01',
  'agent-memory-2026-07-22',
  'oauth-2025-04-20',
  'oidc-federation-2026-04-01',
]);

/** `anthropic-version` values the API accepts. */
export const KNOWN_VERSIONS: ReadonlySet<string> = new Set(['2023-01-01', '2023-06-01', '2026-10-21']);

/** The API version that adds `error.details.error_code` to error bodies. */
export const DETAILS_VERSION = '2026-10-21';

/** sha256 of a key, the form in which keys are compared. */
export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * 401 unless `x-api-key` (or, when absent, `Authorization: Bearer`) holds the key. Digests of equal
 * length are compared with `timingSafeEqual`, so the time taken says nothing about the key.
 */
export function checkKey(req: IncomingMessage, expected: Buffer): void {
  const xApiKey = req.headers['x-api-key'];
  const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  const given = typeof xApiKey === 'string' && xApiKey !== '' ? xApiKey : bearer;
  if (given === undefined || given === '') {
    throw new ApiError(401, 'authentication_error', 'x-api-key header is required');
  }
  if (!timingSafeEqual(keyDigest(given), expected)) {
    throw new ApiError(401, 'authentication_error', given === xApiKey ? 'invalid x-api-key' : 'invalid bearer token');
  }
}

/** The request's `anthropic-version`; 400 when missing or unknown. */
export function checkVersion(req: IncomingMessage): string {
  const version = req.headers['anthropic-version'];
  if (typeof version !== 'string' || version.trim() === '') throw badRequest('anthropic-version: header is required');
  if (!KNOWN_VERSIONS.has(version.trim())) throw badRequest(`anthropic-version: ${JSON.stringify(version)} is not a valid version`);
  return version.trim();
}

/** Which contract a request speaks: the files beta header present, or not (GA, files-api.md). */
export type ContractName = 'beta' | 'ga';

/**
 * 400 for a beta name the API does not know; otherwise the contract the request is routed to, as
 * the API routes it since GA (2026-08-19): with the files beta header the beta shapes, without it
 * the GA shapes. The header is a comma-separated list and may be repeated.
 */
export function contractOf(req: IncomingMessage): ContractName {
  const names = (req.headersDistinct['anthropic-beta'] ?? [])
    .flatMap((value) => value.split(','))
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !KNOWN_BETAS.has(name));
  if (unknown.length > 0) {
    throw badRequest(
      `Unexpected value(s) \`${unknown.join('`, `')}\` for the \`anthropic-beta\` header. Please consult our documentation at docs.anthropic.com or try again without the header.`,
    );
  }
  return names.includes(FILES_BETA) ? 'beta' : 'ga';
}
