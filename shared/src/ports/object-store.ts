import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  bytes: number;
  /** Opaque version tag (ETag in S3, a content hash in the folder store). */
  etag: string;
  modified: Date;
}

export interface PutResult {
  key: string;
  bytes: number;
  sha256: string;
}

export interface PutOptions {
  contentType?: string;
  /** Write only if no object exists at the key (S3 `If-None-Match: *`). Fails with BN_ERR_STORE_CONFLICT semantics (a BottleneckError whose details.conflict is true). */
  ifNoneMatch?: boolean;
  /**
   * putFile only: the caller no longer needs the local file, so the store may take it instead of
   * copying it (the folder store renames it into place when it can). The file is gone afterwards.
   */
  consume?: boolean;
}

export interface GetOptions {
  /**
   * Read only this version (S3 `If-Match` with the ETag `head` or `list` gave): an object replaced
   * since is refused with a BottleneckError whose details.precondition is true, never read half-new.
   */
  ifMatch?: string;
}

/** A local copy of an object, for DuckDB and the workbook reader, which read local files. */
export interface LocalFile {
  path: string;
  /** Removes the copy if one was made. */
  release(): Promise<void>;
}

/**
 * The object store: a local folder on a laptop, S3 in production. Keys are `/`-separated,
 * validated by `validateKey` before any I/O. Writes are atomic per object: a reader sees the
 * old object or the new one, never a part.
 */
export interface ObjectStore {
  put(key: string, body: Buffer | string, opts?: PutOptions): Promise<PutResult>;
  putFile(key: string, path: string, opts?: PutOptions): Promise<PutResult>;
  putStream(key: string, body: Readable, opts?: PutOptions): Promise<PutResult>;
  get(key: string, opts?: GetOptions): Promise<Buffer>;
  getStream(key: string, opts?: GetOptions): Promise<Readable>;
  getToFile(key: string, opts?: GetOptions): Promise<LocalFile>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Objects under a prefix, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  /** A human description of where objects live (a folder path, s3://bucket). */
  describe(key: string): string;
}
