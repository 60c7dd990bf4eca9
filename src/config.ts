// The configuration: every setting declared once (key, default, check), loaded from a file, the
// command line and the environment into one frozen object; and the API key, kept apart from it.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readApiKey } from './api-key.js';
import { ConfigError, errorMessage } from './errors.js';
import { closest } from './suggest.js';
import { globTooCostly } from './glob-cost.js';
import { checkConfigOwner, duplicateKey, jsonErrorPlace, withSmallFile } from './config-file.js';
import { checkOwnFiles, derivedStateDir, realRoot, xdgHome } from './config-paths.js';

export { defaultStateDir } from './config-paths.js';

/**
 * The largest file the API takes: 500 MB is the cap on the whole request (files-api.md), so a
 * file must leave room for the multipart framing around it.
 */
export const API_MAX_FILE_BYTES = 500_000_000 - 16_384;

/** The Files API endpoint when neither the config nor `ANTHROPIC_BASE_URL` names another. */
export const DEFAULT_BASE_URL = 'https://api.anthropic.com';

const positiveInt = z.number().int().positive();

const deletesSchema = z.strictObject({
  /** `mirror`: a file deleted locally is deleted remotely. `keep`: remote copies stay. */
  mode: z.enum(['mirror', 'keep']).default('mirror'),
  /** A plan deleting more files than this is held until `--allow-mass-delete`. */
  maxCount: z.number().int().nonnegative().default(500),
  /** ... or more than this share of the tracked files (applies from 10 tracked files on). */
  maxShare: z.number().min(0).max(1).default(0.5),
});

/** Whether `url` names a user or a password, as a URL parser reads it (a value that is no URL: false). */
function hasUserInfo(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username !== '' || parsed.password !== '';
  } catch {
    return false;
  }
}

/**
 * `value` with everything between its scheme (if any) and its last `@` hidden: the user and
 * password of a URL, however malformed (a password may hold `/`, spaces or `@`).
 */
export function hideUserInfo(value: string): string {
  return value.replace(/^(\s*[a-z][a-z0-9+.-]*:\/+)?.*@/is, (_, scheme: string | undefined) => `${scheme ?? ''}…@`);
}

const apiSchema = z.strictObject({
  /** Files API endpoint; `ANTHROPIC_BASE_URL` overrides it. */
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .refine((url) => !hasUserInfo(url), { message: 'must hold no user or password (the key goes in ANTHROPIC_API_KEY or api.keyFile)' })
    .default(DEFAULT_BASE_URL),
  /** A file holding the API key (mode 0600); `ANTHROPIC_API_KEY` takes precedence. */
  keyFile: z.string().min(1).optional(),
  /** The API contract spoken: `ga` (since 2026-08-19, the default) or the Files `beta` (README, "API contracts"). */
  contract: z.enum(['ga', 'beta']).default('ga'),
  /** `anthropic-version`: `2026-10-21` sends the key as `Authorization: Bearer`, `2023-06-01` as `x-api-key`. */
  version: z.enum(['2026-10-21', '2023-06-01']).default('2026-10-21'),
  /** Sent as `anthropic-workspace-id` on every call, for keys that act on more than one workspace. */
  workspaceId: z
    .string()
    .regex(/^[\x21-\x7e]{1,200}$/, 'must be a workspace id (visible ASCII, e.g. wrkspc_…)')
    .optional(),
  /** GA: a full listing of the workspace at least this often; between them, only owned ids are looked up. */
  fullListHours: z
    .number()
    .min(0)
    .max(24 * 365)
    .default(24),
});

/** Defaults of the `api` section. */
const API_DEFAULTS = { baseUrl: DEFAULT_BASE_URL, contract: 'ga', version: '2026-10-21', fullListHours: 24 } as const;

/** A glob of `exclude` (gitignore) or `include` (picomatch), refused when too costly to match on a deep tree (glob-cost.ts). */
const glob = (kind: 'rule' | 'include') =>
  z
    .string()
    .min(1)
    .refine((g) => !globTooCostly(g, kind), { error: (issue) => globTooCostly(issue.input as string, kind) });

/** The schema of the config file: every key, its default and its check. */
export const configSchema = z.strictObject({
  /** The folder to mirror. */
  root: z.string().min(1),
  /** Where the ledger, lock and control socket live. Default: see `defaultStateDir`. */
  stateDir: z.string().min(1).optional(),
  /** Globs of files to sync; empty means every file. */
  include: z.array(glob('include')).default([]),
  /** Globs (gitignore syntax) never synced, on top of the built-in editor and temp files. */
  exclude: z.array(glob('rule')).default([]),
  /** Follow symbolic links (never out of the root, to an excluded path or to a state directory). */
  followSymlinks: z.boolean().default(false),
  /** Files larger than this are not uploaded (recorded as failures). At most the API's cap. */
  maxFileBytes: positiveInt.max(API_MAX_FILE_BYTES).default(API_MAX_FILE_BYTES),
  /** A file must be unchanged for this long before it is uploaded. */
  settleSeconds: z.number().min(0).max(3600).default(2),
  deletes: deletesSchema.default({ mode: 'mirror', maxCount: 500, maxShare: 0.5 }),
  /** A file that must exist in the root, proving the right disk is mounted; deletes stop without it. */
  rootMarker: z
    .string()
    .min(1)
    .refine((p) => !path.isAbsolute(p) && !p.split(/[\\/]/).includes('..') && path.join('/', p) !== '/', {
      message:
        'must be a file inside the root (relative, without ..): one outside it, or the root itself, is there whichever disk is mounted',
    })
    .nullable()
    .default(null),
  /** Transfers at once. */
  concurrency: positiveInt.max(64).default(8),
  /** Client-side rate limit for all Files API requests. */
  requestsPerMinute: positiveInt.max(100_000).default(90),
  /** How remote filenames are made: the whole relative path, or the file's name alone. */
  remoteNames: z.enum(['path', 'basename']).default('path'),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** Daemon: a full reconciliation this often (±20% jitter). */
  reconcileIntervalMinutes: z
    .number()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  /** Daemon: a local delete waits this long before the remote delete (rename, editor saves). */
  deleteDelaySeconds: z.number().min(0).max(3600).default(10),
  /**
   * Daemon: paths waiting for a job (queued, settling, parked, deletes waiting) at most; past it
   * the hints are dropped and one full reconciliation finds the changes instead (bounded memory).
   */
  maxPendingHints: positiveInt.min(10).max(10_000_000).default(100_000),
  api: apiSchema.default(API_DEFAULTS),
});

type ParsedConfig = z.infer<typeof configSchema>;

/** The keys of each object of the schema, by path, for "did you mean". */
const KNOWN_KEYS: Record<string, Record<string, unknown>> = {
  '': configSchema.shape,
  deletes: deletesSchema.shape,
  api: apiSchema.shape,
};

/** The resolved configuration every module receives (frozen; absolute paths). */
export type Config = Readonly<
  Omit<ParsedConfig, 'stateDir' | 'deletes' | 'api'> & {
    stateDir: string;
    deletes: Readonly<ParsedConfig['deletes']>;
    api: Readonly<ParsedConfig['api']>;
    /** The file the config came from, if any. */
    source: string | null;
  }
>;

/** What the command line contributes to the configuration. */
export interface ConfigOverrides {
  configPath?: string;
  root?: string;
  stateDir?: string;
}

/** Drops the comment-like `"//"` keys the example file uses, at every depth. */
function stripComments(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripComments);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) if (!key.startsWith('//')) out[key] = stripComments(inner);
    return out;
  }
  return value;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
    const known = Object.keys(KNOWN_KEYS[issue.path.join('.')] ?? {});
    const named = issue.keys.map((k) => {
      const near = closest(k, known);
      return `"${prefix}${k}"${near ? ` (did you mean "${prefix}${near}"?)` : ''}`;
    });
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${named.join(', ')}`;
  }
  return `${where}: ${issue.message}`;
}

/** Finds the config file: `--config`, else `./sync.config.json`, else the XDG config file. */
export function findConfigFile(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, cwd: string): string | null {
  if (overrides.configPath !== undefined) return path.resolve(cwd, overrides.configPath);
  const candidates = [
    path.join(cwd, 'sync.config.json'),
    path.join(xdgHome(env, 'XDG_CONFIG_HOME', '.config'), 'files-sync', 'config.json'),
  ];
  // A file there that cannot be read is chosen, and its read says why. A folder on its path that this
  // user cannot search (sudo -u from /root keeps that working directory) hides whether one is there,
  // and none there can be this user's: passed over for the next, as an absent one is.
  return candidates.find((file) => fs.existsSync(file)) ?? null;
}

function readConfigFile(file: string): unknown {
  const text = withSmallFile(file, 'config', ({ stats, read }) => {
    checkConfigOwner(file, stats);
    return read();
  });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${file}${jsonErrorPlace(text, errorMessage(err))} is not valid JSON: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const twice = duplicateKey(text);
  if (twice) {
    throw new ConfigError(
      `config ${file}${jsonErrorPlace(text, `position ${twice.at}`)}: the key "${twice.key}" is given twice in one object (the last would silently win): keep one`,
    );
  }
  return value;
}

/** Checks raw settings against the schema; a ConfigError names every problem, on one line. */
export function parseConfig(raw: unknown, source: string | null): ParsedConfig {
  const where = source ? `config ${source}` : 'config';
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  const result = configSchema.safeParse(stripComments(raw));
  if (!result.success) throw new ConfigError(`${where}: ${result.error.issues.map(describeIssue).join('; ')}`);
  return result.data;
}

/** An empty path option (a script's unset variable) names nothing: refused, never the default in its place. */
export function refuseEmptyPaths(overrides: ConfigOverrides): void {
  for (const [option, value] of [
    ['--config', overrides.configPath],
    ['--root', overrides.root],
    ['--state-dir', overrides.stateDir],
  ] as const) {
    if (value === '') throw new ConfigError(`${option} is empty: name a path, or leave the option out`);
  }
}

/**
 * Loads the configuration from the file (if any), the command line and the environment.
 * Paths in the file are relative to the file; paths on the command line to `cwd`.
 */
export function loadConfig(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, cwd = process.cwd()): Config {
  refuseEmptyPaths(overrides);
  const file = findConfigFile(overrides, env, cwd);
  const raw: Record<string, unknown> = file ? (readConfigFile(file) as Record<string, unknown>) : {};
  if (file && (!raw || typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`config ${file}: expected a JSON object`);
  }
  const base = file ? path.dirname(file) : cwd;
  const merged: Record<string, unknown> = { ...raw };
  if (overrides.root !== undefined) merged.root = path.resolve(cwd, overrides.root);
  if (overrides.stateDir !== undefined) merged.stateDir = path.resolve(cwd, overrides.stateDir);
  if (merged.root === undefined) {
    throw new ConfigError(
      file
        ? `config ${file}: "root" is missing: name the folder to sync`
        : 'no config file found (tried ./sync.config.json and $XDG_CONFIG_HOME/files-sync/config.json): run files-sync init --root DIR once, or pass --config FILE or --root DIR',
    );
  }
  const parsed = parseConfig(merged, file);
  // The real path: a link to the folder and the folder share one state directory (one ledger).
  const root = realRoot(path.resolve(base, parsed.root));
  const stateDir = parsed.stateDir ? path.resolve(base, parsed.stateDir) : derivedStateDir(path.resolve(base, parsed.root), root, env);
  const baseUrl = env.ANTHROPIC_BASE_URL || parsed.api.baseUrl;
  if (env.ANTHROPIC_BASE_URL && (!z.url({ protocol: /^https?$/ }).safeParse(baseUrl).success || hasUserInfo(baseUrl))) {
    // Said without any user or password it holds: a secret on a terminal or in a journal.
    throw new ConfigError(`ANTHROPIC_BASE_URL is not an http(s) URL without a user or password: ${hideUserInfo(baseUrl)}`);
  }
  const keyFile = parsed.api.keyFile ? path.resolve(base, parsed.api.keyFile) : undefined;
  checkOwnFiles(root, stateDir, keyFile, file ?? undefined);
  return Object.freeze({
    ...parsed,
    root,
    stateDir,
    source: file,
    deletes: Object.freeze({ ...parsed.deletes }),
    api: Object.freeze({ ...parsed.api, baseUrl, ...(keyFile ? { keyFile } : {}) }),
  });
}

export { CREDENTIAL_NAME } from './api-key.js';

/**
 * The API key: `ANTHROPIC_API_KEY`, else `api.keyFile`, else the systemd credential
 * `$CREDENTIALS_DIRECTORY/anthropic-api-key` (api-key.ts). Never from the command line; registered
 * as a secret so that no log line can carry it.
 */
export function loadApiKey(config: Config, env: NodeJS.ProcessEnv): string {
  return readApiKey(config.api.keyFile, env);
}
