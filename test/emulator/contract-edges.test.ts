// Edges of the contract a client can reach over raw HTTP that the SDK suites do not: what the
// emulator stores must fit the schemas of files-beta.yaml, and every answer is validated against it.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { OPENAPI_GA_PATH, OpenApiContract, recordingFetch, validateRecorded, type RecordedResponse } from '../helpers/openapi.js';

const KEY = 'sk-contract-edges-key-0001';
const BETA_HEADERS = { 'x-api-key': KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'files-api-2025-04-14' };

const records: RecordedResponse[] = [];
const recorded = recordingFetch(records);
let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY });
});

afterAll(async () => {
  await emu.close();
});

/** An upload of one `file` part written by hand, its Content-Type header line as given (null: none). */
function uploadPart(type: string | null, filename = 'part.txt'): Promise<Response> {
  const typeLine = type === null ? '' : `Content-Type: ${type}\r\n`;
  const body = `--edge\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n${typeLine}\r\nabc\r\n--edge--\r\n`;
  return recorded(`${emu.url}/v1/files?beta=true`, {
    method: 'POST',
    body,
    headers: { ...BETA_HEADERS, 'content-type': 'multipart/form-data; boundary=edge' },
  });
}

async function errorOf(response: Response): Promise<{ status: number; type: string }> {
  const body = (await response.json()) as { error: { type: string } };
  return { status: response.status, type: body.error.type };
}

describe('mime_type', () => {
  it('refuses a part Content-Type longer than the 255 characters a mime_type may have, storing nothing', async () => {
    const longest = `application/${'x'.repeat(255 - 'application/'.length)}`;
    const kept = await uploadPart(longest);
    expect(kept.status).toBe(200);
    expect(((await kept.json()) as { mime_type: string }).mime_type).toBe(longest);
    const before = emu.state().files.length;
    expect(await errorOf(await uploadPart(`${longest}x`))).toEqual({ status: 400, type: 'invalid_request_error' });
    expect(emu.state().files.length).toBe(before);
    expect(() => emu.seed({ filename: 'seeded.bin', content_base64: '', mime_type: `${longest}x` })).toThrow(TypeError);
    // Listings hold what was stored: still within the schema.
    expect((await recorded(`${emu.url}/v1/files?beta=true&limit=1000`, { headers: BETA_HEADERS })).status).toBe(200);
  });

  it('stores application/octet-stream for a part whose Content-Type header is empty, as for one without it', async () => {
    for (const type of [null, '', '   ']) {
      const response = await uploadPart(type);
      expect({ type, status: response.status }).toEqual({ type, status: 200 });
      expect({ type, mime_type: ((await response.json()) as { mime_type: string }).mime_type }).toEqual({
        type,
        mime_type: 'application/octet-stream',
      });
    }
  });
});

describe('request size', () => {
  it("answers an upload declared over the cap 413 before checking anything else, as the API's edge does", async () => {
    const small = await startEmulator({ apiKey: KEY, maxFileBytes: 1000 });
    try {
      const oversize = (headers: Record<string, string>, type = 'text/plain'): Promise<Response> => {
        const form = new FormData();
        form.append('file', new Blob([new Uint8Array(5000)], { type }), 'big.txt');
        return recorded(`${small.url}/v1/files`, { method: 'POST', body: form, headers });
      };
      const answers = [
        await oversize({ ...BETA_HEADERS, 'x-api-key': 'sk-wrong' }),
        await oversize({ 'anthropic-beta': 'files-api-2025-04-14' }),
        await oversize({ ...BETA_HEADERS, 'anthropic-version': '1999-01-01' }),
        await oversize({ ...BETA_HEADERS, 'anthropic-beta': 'made-up-beta-2099-01-01' }),
      ];
      for (const answer of answers) expect(await errorOf(answer)).toEqual({ status: 413, type: 'request_too_large' });
      // Within the cap, the key is checked as before.
      const form = new FormData();
      form.append('file', new Blob(['x'], { type: 'text/plain' }), 'small.txt');
      const wrongKey = await recorded(`${small.url}/v1/files`, {
        method: 'POST',
        body: form,
        headers: { ...BETA_HEADERS, 'x-api-key': 'sk-wrong' },
      });
      expect(await errorOf(wrongKey)).toEqual({ status: 401, type: 'authentication_error' });
      expect(small.state().files).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('answers', () => {
  it('every JSON answer validates against files-beta.yaml', () => {
    expect(records.some((r) => r.json !== undefined)).toBe(true);
    expect(validateRecorded(new OpenApiContract(), records)).toEqual([]);
  });
});

describe('the error envelope of both OpenAPI documents', () => {
  it("takes every error type of files-api.md's table", () => {
    const table = readFileSync(new URL('../../docs/files-api.md', import.meta.url), 'utf8');
    const types = [...table.matchAll(/^\| \d{3} \| ([a-z_]+) \|/gm)].map((m) => m[1] ?? '');
    expect(types).toContain('conflict_error');
    expect(types.length).toBeGreaterThanOrEqual(10);
    const documents = [
      { contract: new OpenApiContract(), schema: 'BetaErrorResponse' },
      { contract: new OpenApiContract(OPENAPI_GA_PATH), schema: 'ErrorResponse' },
    ];
    for (const { contract, schema } of documents) {
      for (const type of types) {
        const body = { type: 'error', error: { type, message: 'm' }, request_id: 'req_1' };
        expect({ schema, type, errors: contract.validate(schema, body) }).toEqual({ schema, type, errors: [] });
      }
    }
  });
});
