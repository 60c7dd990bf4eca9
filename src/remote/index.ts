// The Files API client's public surface: the client, its errors, the contract seam and the types.
export { FilesClient, DEFAULT_REQUESTS_PER_MINUTE, type FilesClientOptions } from './client.js';
export {
  createContract,
  FILES_BETA,
  MAX_LOOKUP_IDS,
  type ApiVersion,
  type Contract,
  type ContractName,
  type Page,
  type Query,
} from './contract.js';
export {
  AbortedError,
  ApiError,
  AuthError,
  FileExpiredError,
  KNOWN_ERROR_CODES,
  LocalFileError,
  NotDownloadableError,
  ResponseFormatError,
  StorageQuotaExceededError,
  UnavailableError,
  unknownOutcomeAttemptsOf,
  type ApiErrorDetails,
} from './errors.js';
export { DEFAULT_RETRY_POLICY, DEFAULT_TIMEOUTS, type RetryPolicy, type Timeouts } from './retry.js';
export type { RemoteStats, RequestKind } from './transport.js';
export type * from './types.js';
