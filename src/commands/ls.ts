// `files-sync ls`: the path → file_id map applications use.
import { loadConfig } from '../config.js';
import { ExitCode } from '../errors.js';
import { openLedger, write, writeJson, type Command } from './shared.js';

/** `files-sync ls`. */
export const ls: Command = (context) => Promise.resolve(lsSync(context));

function lsSync(context: Parameters<Command>[0]): number {
  const ledger = openLedger(loadConfig(context.overrides, context.env), { readOnly: true });
  try {
    const rows = ledger.files().map((r) => ({
      path: r.path,
      file_id: r.fileId,
      size: r.size,
      mime_type: r.mimeType,
      uploaded_at: r.uploadedAt,
    }));
    if (context.json) writeJson(rows);
    else
      for (const r of rows) write(`${r.file_id}  ${String(r.size).padStart(10)}  ${r.mime_type.padEnd(24)}  ${r.uploaded_at}  ${r.path}`);
    return ExitCode.ok;
  } finally {
    ledger.close();
  }
}
