// The client's helpers around a request: reading a JSON answer, streaming a download into a
// temporary file, hashing an upload's bytes as they are sent, encoding a file id, and naming a
// file-system error.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Answer } from './answer.js';
import { ApiError, LocalFileError, ResponseFormatError } from './errors.js';

/** Reads a 2xx answer as JSON; a body that is not JSON is a ResponseFormatError. */
export async function readJson(res: Answer, what: string): Promise<unknown> {
  const text = await res.body.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ResponseFormatError(what, '(body)', 'valid JSON');
  }
}

/**
 * Streams an answer's body into `temp` (truncated first: a retry starts over) and syncs it.
 * Write errors are LocalFileErrors (final); read errors propagate as lost answers (retried).
 */
export async function writeBody(res: Answer, temp: string): Promise<number> {
  const local = (err: unknown) => new LocalFileError(temp, codeOf(err), { cause: err }, 'write');
  let handle: FileHandle;
  try {
    handle = await open(temp, 'w', 0o600);
  } catch (err) {
    throw local(err);
  }
  let bytes = 0;
  try {
    for await (const chunk of res.body) {
      try {
        await handle.write(chunk);
      } catch (err) {
        throw local(err);
      }
      bytes += chunk.length;
    }
    try {
      await handle.sync();
    } catch (err) {
      throw local(err);
    }
  } finally {
    await handle.close();
  }
  return bytes;
}

/** A file id as a path segment; an empty or non-string id is refused before any request. */
export function encodeId(id: string): string {
  if (typeof id !== 'string' || id === '')
    throw new ApiError('a file id must be a non-empty string', {
      type: 'invalid_argument',
      retryable: false,
      attempts: 0,
    });
  return encodeURIComponent(id);
}

/** The errno code of a file-system error (`EIO` when it has none). */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/**
 * The sha256 of the file bytes one upload attempt sends (a tap on its body, multipart.ts): `hex`
 * is set only once every byte of the file went through and the file was checked unchanged.
 */
export class SentHash {
  readonly #hash = createHash('sha256');
  #hex: string | undefined;

  /** The next bytes of the file, in order. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }

  /** The whole file went through, and it did not change while it was read. */
  end(): void {
    this.#hex = this.#hash.digest('hex');
  }

  /** Hex sha256 of the whole file, or undefined when the attempt did not send it all. */
  get hex(): string | undefined {
    return this.#hex;
  }
}
