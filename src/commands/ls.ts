// `files-sync ls`: the path → file_id map applications use.
import { loadConfig } from '../config.js';
import { ExitCode } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger, write, writeJsonArray, type Command } from './shared.js';

const PAGE_ROWS = 1_000;

/** One line of the map, as `ls --json` prints it. */
interface MapEntry {
  path: string;
  file_id: string;
  size: number;
  mime_type: string;
  uploaded_at: string;
}

/** `files-sync ls`. */
export const ls: Command = (context) => Promise.resolve(lsSync(context));

function lsSync(context: Parameters<Command>[0]): number {
  const ledger = openLedger(loadConfig(context.overrides, context.env), { readOnly: true });
  try {
    if (context.json) writeJsonArray(pagesOf(ledger));
    else
      for (const page of pagesOf(ledger))
        for (const r of page) write(`${r.file_id}  ${String(r.size).padStart(10)}  ${r.mime_type.padEnd(24)}  ${r.uploaded_at}  ${r.path}`);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
}

/** Rows a page at a time in path order, so that a million-file map streams out in flat memory. */
function* pagesOf(ledger: Ledger): Generator<MapEntry[]> {
  let after: string | null = null;
  for (;;) {
    const rows = ledger.filesAfter(after, PAGE_ROWS);
    if (rows.length === 0) return;
    after = rows.at(-1)!.path;
    yield rows.map((r) => ({ path: r.path, file_id: r.fileId, size: r.size, mime_type: r.mimeType, uploaded_at: r.uploadedAt }));
  }
}
