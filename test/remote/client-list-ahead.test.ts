// A listing read ahead (`list({ readAhead: true })`): the next page is asked for while the caller
// still handles this one, a page nobody reads is abandoned, and a failed page reaches the caller
// where the listing got to, not before. Against a local server that holds its answers on demand.
import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { ApiError, type FileMetadata } from '../../src/remote/index.js';
import { client, fileMeta, json, localServer } from '../helpers/client-fixtures.js';
import { waitFor } from '../helpers/sync.js';

const GA = { contract: 'ga', apiVersion: '2026-10-21', listPageSize: 1 } as const;

/** Pages of one file each, `page_2` … `page_N` as cursors; `hold` keeps a page's answer back. */
async function pagedServer(pages: number, hold: (page: number) => boolean = () => false) {
  const held: http.ServerResponse[] = [];
  const aborted: number[] = [];
  const server = await localServer((req, res) => {
    const cursor = new URL(req.url ?? '/', 'http://x').searchParams.get('page');
    const page = cursor === null ? 1 : Number(cursor.slice('page_'.length));
    res.on('close', () => {
      if (!res.writableFinished) aborted.push(page);
    });
    if (hold(page)) return void held.push(res);
    json(res, 200, { data: [fileMeta(`file_${page}`)], next_page: page < pages ? `page_${page + 1}` : null });
  });
  return { server, held, aborted };
}

describe('a listing read ahead', () => {
  it('asks for the next page while the caller still holds this one, and reads each page once', async () => {
    const { server } = await pagedServer(3);
    const c = client(server.url, GA);
    const seen: string[] = [];

    for await (const file of c.list({ readAhead: true })) {
      seen.push(file.id);
      // The caller has not asked for more: page 2's request must already be on its way.
      if (seen.length === 1) await waitFor(() => server.arrivals.length === 2, 'the second page asked for ahead', 5_000);
    }

    expect(seen).toEqual(['file_1', 'file_2', 'file_3']);
    expect(server.arrivals).toHaveLength(3);
    expect(c.stats.byKind.list).toBe(3);
  });

  it('without it, asks for a page only when the caller reaches it', async () => {
    const { server } = await pagedServer(2);
    const c = client(server.url, GA);
    const it = c.list()[Symbol.asyncIterator]();

    expect((await it.next()).value).toMatchObject({ id: 'file_1' });
    // Give a request asked for ahead every chance to arrive: a round trip on loopback is far shorter.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.arrivals).toHaveLength(1);
    expect((await it.next()).value).toMatchObject({ id: 'file_2' });
    expect((await it.next()).done).toBe(true);
  });

  it('abandons the page asked for ahead when the caller stops', async () => {
    const { server, aborted } = await pagedServer(3, (page) => page === 2);
    const c = client(server.url, GA);
    const seen: FileMetadata[] = [];

    for await (const file of c.list({ readAhead: true })) {
      seen.push(file);
      await waitFor(() => server.arrivals.length === 2, 'the second page asked for ahead', 5_000);
      break;
    }

    expect(seen.map((f) => f.id)).toEqual(['file_1']);
    await waitFor(() => aborted.includes(2), 'the held request closed by the client', 5_000);
    expect(server.arrivals).toHaveLength(2);
  });

  it('hands out every file before a page that failed ahead, then its error', async () => {
    const { server, held } = await pagedServer(3, (page) => page === 2);
    const c = client(server.url, GA);
    const seen: string[] = [];

    const read = (async () => {
      for await (const file of c.list({ readAhead: true })) {
        seen.push(file.id);
        // Page 2 fails while the caller still holds page 1: no unhandled rejection, no early error.
        await waitFor(() => held.length === 1, 'the second page asked for ahead', 5_000);
        const res = held[0]!;
        if (!res.headersSent) {
          json(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'bad page' } });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();

    await expect(read).rejects.toBeInstanceOf(ApiError);
    expect(seen).toEqual(['file_1']);
    expect(server.arrivals).toHaveLength(2);
  });
});
