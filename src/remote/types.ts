// The Files API as the rest of files-sync sees it: the metadata shape and the narrow interface
// the sync engine consumes (STYLE.md 3), implemented over HTTP by FilesClient.

/** One file of the workspace (files-api.md, FileMetadata). */
export interface FileMetadata {
  id: string;
  type: 'file';
  filename: string;
  mime_type: string;
  size_bytes: number;
  /** RFC 3339 with microseconds, e.g. `2025-04-15T18:37:24.100435Z`. */
  created_at: string;
  downloadable?: boolean;
  scope?: { id: string; type: string } | null;
  /** GA contract only; absent in the beta. */
  expires_at?: string | null;
}

/** Options of one upload. */
export interface UploadOptions {
  /** The stored filename (already a valid remote name). */
  filename: string;
  /** The part's Content-Type, stored as the file's `mime_type`. */
  mimeType: string;
  /**
   * The file as the caller last saw it (its hash is of that version). Each attempt opens the file
   * without following a symlink; when it is not a regular file, its size, mtime (or, when given,
   * device and inode) differ, or its real path is not under `root` (the sync root's real path,
   * DESIGN.md rule 8) or, when given, not exactly `realPath`, the upload fails with LocalFileError
   * `changed` and sends nothing.
   */
  expect?: {
    size: number;
    mtimeMs: number;
    dev?: number | undefined;
    ino?: number | undefined;
    root?: string | undefined;
    /** The exact real path the file must have (where the scan found it), besides lying under `root`. */
    realPath?: string | undefined;
  };
  /**
   * The file's bytes as the caller read (and hashed) them: sent as they are, without reading the
   * file again (`expect` is then not checked: the caller vouches for the version).
   */
  content?: Buffer;
  /**
   * Hash the file's bytes as they are sent (a large new file read once, not twice): the result
   * carries their sha256. Each attempt sends, and hashes, the file again.
   */
  hash?: boolean;
  signal?: AbortSignal;
}

/** What an upload returns: the new file and what the caller must know to look for orphans. */
export interface UploadResult {
  file: FileMetadata;
  /** Attempts made, the successful one included. */
  attempts: number;
  /**
   * Attempts whose body was sent but whose answer was lost (reset, timeout): each may have left a
   * stored file the caller does not know the id of. Reconciliation looks for such orphans.
   */
  unknownOutcomeAttempts: number;
  /**
   * With `hash`: hex sha256 of the file's bytes the stored copy was sent, when the attempt that
   * stored it sent the whole file (absent otherwise: the caller cannot tell what was stored).
   */
  sha256?: string;
}

/** What a delete returns. */
export interface DeleteResult {
  id: string;
  /** The API answered 404: the file was already gone. */
  alreadyDeleted: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends CallOptions {
  /**
   * Asks for the next page as soon as a page arrives, so the server works on it while the caller
   * handles this one. For a caller that reads the listing to its end: one that stops early has
   * made one request more, which is abandoned.
   */
  readAhead?: boolean;
}

/** The Files API operations files-sync needs. */
export interface RemoteFiles {
  upload(path: string, options: UploadOptions): Promise<UploadResult>;
  /** Every file of the workspace, newest first, paging until the end. */
  list(options?: ListOptions): AsyncIterable<FileMetadata>;
  /**
   * GA only (absent or throwing under beta): the files among 1 to 100 `ids` that still resolve, in
   * one request; an id left out is gone.
   */
  lookup?(ids: readonly string[], options?: CallOptions): Promise<FileMetadata[]>;
  /** The API's clock in ms since the epoch, as its answers tell it (for `expires_at`). */
  serverNow?(): number;
  /** The contract spoken; `ga` allows `lookup`. */
  readonly contract?: 'beta' | 'ga';
  get(id: string, options?: CallOptions): Promise<FileMetadata>;
  delete(id: string, options?: CallOptions): Promise<DeleteResult>;
  download(id: string, toPath: string, options?: CallOptions): Promise<{ bytes: number }>;
  /**
   * The API's clock minus this host's (ms), from its `Date` header; undefined until an answer
   * carried one. Orphans of lost answers are matched on the server's clock (DESIGN.md rule 3).
   */
  clockOffsetMs?(): number | undefined;
}
