// Streaming multipart/form-data uploads: the `file` part into a sink, filename rules, size cap.
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import { extension } from 'mime-types';
import { ApiError, badRequest } from './errors.js';
import type { ContentSink } from './backend.js';

/** The request ended (connection closed) before its body was complete. */
export class UploadAborted extends Error {
  override name = 'UploadAborted';
}

export interface ReceiveOptions {
  /** Cap on the request body in bytes (the API's 413 is about the whole request). */
  maxBytes: number;
  createSink: () => ContentSink;
  /** Called with the body bytes read so far, after each chunk (fault injection hooks in here). */
  onProgress?: (bytes: number) => void;
  /** Aborting rejects at once with {@link UploadAborted} and keeps nothing. */
  signal?: AbortSignal;
  /**
   * How the `file` part's filename becomes the stored one. `as-sent` (the beta): as it is, a path
   * refused by the filename rules. `last-component` (GA, files-api.md): the last path component
   * only, and a part without one is named `unnamed` plus an extension of its type.
   */
  filenames?: 'as-sent' | 'last-component';
}

/** A received upload; the sink has finished and must be committed or discarded. */
export interface ReceivedUpload {
  filename: string;
  mimeType: string;
  sink: ContentSink;
  /** The plain text fields of the form (GA: `expires_in_seconds`), last value of each name. */
  fields: Map<string, string>;
}

/** The largest plain field read (a GA `file` part without a filename is one). */
const FIELD_BYTES = 1 << 20;

/** 413 as the API's edge answers it. */
export function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'request_too_large', `Request exceeds the maximum allowed number of bytes (${maxBytes}).`);
}

/**
 * 413 when the request declares a body over the cap (its Content-Length). The API's edge answers
 * this before the API sees the request (files-api.md), so it comes before any header check.
 */
export function checkDeclaredLength(req: IncomingMessage, maxBytes: number): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge(maxBytes);
}

/**
 * Undici and browsers escape `"`, CR and LF in a Content-Disposition filename as `%22`, `%0D`,
 * `%0A` (WHATWG multipart/form-data encoding); undo that so the filename rules see them.
 */
export function decodeFilename(raw: string): string {
  return raw.replace(/%(22|0D|0A)/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

// eslint-disable-next-line no-control-regex -- the API refuses control characters in filenames
const FORBIDDEN = /[<>:"|?*\\/\u0000-\u001f]/u;

/**
 * GA's stored name for a part's filename: its last path component (after the last `/` or `\\`),
 * or `unnamed` plus the extension of the part's type when there is none (no filename, or one that
 * ends in a separator).
 */
export function lastComponentName(sent: string, mimeType: string): string {
  const last = sent.slice(Math.max(sent.lastIndexOf('/'), sent.lastIndexOf('\\')) + 1);
  if (last.length > 0) return last;
  const ext = extension(mimeType);
  return ext ? `unnamed.${ext}` : 'unnamed';
}

/** Longest stored `mime_type` (FileMetadata's `maxLength` in files-beta.yaml). */
export const MAX_MIME_TYPE = 255;

/** Why a part's type cannot be stored as `mime_type`, or undefined when it can. */
export function mimeTypeProblem(type: string): string | undefined {
  const length = [...type].length;
  if (length > MAX_MIME_TYPE) return `file: the part's Content-Type must be at most ${MAX_MIME_TYPE} characters (got ${length})`;
  return undefined;
}

/**
 * Why a filename is refused, or undefined when it is fine. Length is counted in Unicode code
 * points (an emoji is one character), 1 to 255.
 */
export function filenameProblem(name: string | undefined): string | undefined {
  if (name === undefined || name.length === 0) return 'filename: must be between 1 and 255 characters';
  const length = [...name].length;
  if (length > 255) return `filename: must be between 1 and 255 characters (got ${length})`;
  if (FORBIDDEN.test(name)) return 'filename: must not contain < > : " | ? * \\ / or control characters (U+0000 to U+001F)';
  return undefined;
}

/** The checks before a body is read, and its parser: a refusal here costs no read. */
function openUpload(req: IncomingMessage, opts: ReceiveOptions): { parser: busboy.Busboy; contentType: string } {
  // The connection may have closed while the request waited (injected latency): its 'close' has
  // then been emitted already and would never be heard below.
  if (req.destroyed) throw new UploadAborted('the connection closed before the upload was read');
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) {
    throw badRequest('The request body must be multipart/form-data with a `file` part.');
  }
  checkDeclaredLength(req, opts.maxBytes);
  try {
    const parser = busboy({
      headers: req.headers,
      defParamCharset: 'utf8',
      preservePath: true,
      // Field values byte for byte: a `file` part without a filename is a field to busboy, and GA
      // stores it (receiveUpload). The other fields (`expires_in_seconds`) are ASCII.
      defCharset: 'latin1',
      limits: { fieldSize: FIELD_BYTES, parts: 1000 },
    });
    return { parser, contentType };
  } catch (err) {
    throw badRequest(`Invalid multipart/form-data request: ${(err as Error).message}`);
  }
}

/**
 * Reads an upload without buffering it: the body streams through a meter (byte count, size cap,
 * a look at the part headers) into busboy, and the `file` part into a sink that hashes it. Other
 * parts are drained. On an API error the rest of the body is discarded so an answer can be sent;
 * when the connection closes early, rejects with {@link UploadAborted} and nothing is kept.
 */
export async function receiveUpload(req: IncomingMessage, opts: ReceiveOptions): Promise<ReceivedUpload> {
  const { parser, contentType } = openUpload(req, opts);
  const meter = new BodyMeter(boundaryOf(contentType), opts.maxBytes, opts.onProgress);

  return new Promise<ReceivedUpload>((resolve, reject) => {
    let settled = false;
    let sink: ContentSink | undefined;
    let written: Promise<void> | undefined;
    let filename = '';
    let mimeType = '';
    let refusal: ApiError | undefined;
    const fields = new Map<string, string>();

    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      req.unpipe(meter);
      meter.unpipe(parser);
      req.resume(); // discard the rest of the body
      void Promise.resolve(sink?.discard())
        .catch(() => undefined)
        .finally(() => reject(err instanceof Error ? err : new Error(String(err))));
    };

    /** Takes the `file` part's content into the sink, or refuses its name. */
    const take = (content: Readable, sent: string, partType: string): void => {
      // busboy reports a part without Content-Type as text/plain; the API stores octet-stream.
      mimeType = meter.fileHasContentType === false ? 'application/octet-stream' : partType;
      filename = opts.filenames === 'last-component' ? lastComponentName(sent, mimeType) : sent;
      const problem = mimeTypeProblem(mimeType) ?? filenameProblem(filename);
      if (problem) {
        refusal = badRequest(problem);
        content.resume();
        return;
      }
      sink = opts.createSink();
      written = pipeline(content, sink);
      written.catch(fail);
    };
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || sink || refusal) {
        stream.resume();
        return;
      }
      take(stream, decodeFilename(info.filename ?? ''), info.mimeType);
    });
    parser.on('field', (name, value, info) => {
      fields.set(name, value);
      if (name !== 'file' || sink || refusal) return;
      const part = unnamedPart(value, info.valueTruncated, meter.fileCharset, opts);
      if (part instanceof ApiError) refusal = part;
      else take(part, '', info.mimeType);
    });
    parser.on('error', (err: Error) => fail(badRequest(`Invalid multipart/form-data body: ${err.message}`)));
    meter.on('error', fail);
    parser.on('close', () => {
      if (refusal) return fail(refusal);
      if (!sink || !written) return fail(badRequest('file: Field required'));
      const done = sink;
      written.then(() => {
        if (settled) return;
        settled = true;
        resolve({ filename, mimeType, sink: done, fields });
      }, fail);
    });
    const onClose = () => {
      if (!req.complete) fail(new UploadAborted('the connection closed before the upload was complete'));
    };
    // The connection may have closed already (during injected latency): 'close' will not come again.
    if (req.destroyed) onClose();
    else req.on('close', onClose);
    opts.signal?.addEventListener('abort', () => fail(new UploadAborted('the upload was cut off')), { once: true });
    req.pipe(meter).pipe(parser);
  });
}

/**
 * The content of a `file` part without a filename, which busboy hands over as a field: GA stores it
 * (named `unnamed`), the beta refuses it. busboy decoded it as the part's charset says (latin1 when
 * none): encoded back the same way, it is the bytes as sent (text that charset can hold).
 */
function unnamedPart(value: string, truncated: boolean, charset: string | undefined, opts: ReceiveOptions): Readable | ApiError {
  if (opts.filenames !== 'last-component') return badRequest('file: must be a file part (with a filename), not a plain field');
  if (truncated) return badRequest(`file: a part without a filename holds at most ${FIELD_BYTES} bytes here (the emulator's limit)`);
  const utf8 = /^utf-?8$/i.test(charset ?? '');
  if (charset !== undefined && !utf8 && !/^(latin1|iso-8859-1|us-ascii)$/i.test(charset))
    return badRequest(`file: a part without a filename in charset ${charset} is not read here (the emulator's limit)`);
  return Readable.from([Buffer.from(value, utf8 ? 'utf8' : 'latin1')]);
}

function boundaryOf(contentType: string): string | undefined {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/** How far into the body to look for the `file` part's headers. */
const SNIFF_BYTES = 64 * 1024;

/**
 * Passes the body through unchanged while counting it (over the cap: a 413 error), and reads the
 * part headers at the start of the body to tell whether the `file` part had a Content-Type at all,
 * which busboy does not say.
 */
class BodyMeter extends Transform {
  /** true/false once the `file` part's headers were seen; undefined if they were not (yet). */
  fileHasContentType: boolean | undefined;
  /** The `charset` of the `file` part's Content-Type, if it has one. */
  fileCharset: string | undefined;
  private bytes = 0;
  private head: Buffer[] | undefined = [];

  constructor(
    private readonly boundary: string | undefined,
    private readonly maxBytes: number,
    private readonly onProgress: ((bytes: number) => void) | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return callback(tooLarge(this.maxBytes));
    if (this.head) this.sniff(chunk);
    callback(null, chunk);
    this.onProgress?.(this.bytes);
  }

  private sniff(chunk: Buffer): void {
    const head = this.head;
    if (!head || this.boundary === undefined) return;
    head.push(chunk);
    const text = Buffer.concat(head).toString('latin1');
    const delimiter = `--${this.boundary}\r\n`;
    for (let at = text.indexOf(delimiter); at >= 0; at = text.indexOf(delimiter, at + 1)) {
      const start = at + delimiter.length;
      const end = text.indexOf('\r\n\r\n', start);
      if (end < 0) break; // headers not complete yet
      const lines = text.slice(start, end).split('\r\n');
      const disposition = lines.find((l) => /^content-disposition\s*:/i.test(l)) ?? '';
      if (/;\s*name\s*=\s*(?:"file"|file)\s*(?:;|$)/i.test(disposition)) {
        const type = lines.find((l) => /^content-type\s*:/i.test(l));
        // A header with no value names no type either (files-api.md: then application/octet-stream).
        this.fileHasContentType = type !== undefined && type.slice(type.indexOf(':') + 1).trim() !== '';
        this.fileCharset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type ?? '')?.[1];
        this.head = undefined;
        return;
      }
    }
    if (text.length > SNIFF_BYTES) this.head = undefined;
  }
}
