// The part of yauzl 3's API this reader uses (@types/yauzl describes yauzl 2, without
// readLocalFileHeader).
declare module 'yauzl' {
  import type { EventEmitter } from 'node:events';

  export interface Options {
    autoClose?: boolean;
    lazyEntries?: boolean;
    decodeStrings?: boolean;
    validateEntrySizes?: boolean;
    strictFileNames?: boolean;
  }

  export interface ExtraField {
    id: number;
    data: Buffer;
  }

  export interface Entry {
    fileName: string;
    extraFields: ExtraField[];
    generalPurposeBitFlag: number;
    compressionMethod: number;
    crc32: number;
    compressedSize: number;
    uncompressedSize: number;
    relativeOffsetOfLocalHeader: number;
    isEncrypted(): boolean;
  }

  export interface LocalFileHeader {
    fileDataStart: number;
    fileNameLength: number;
    extraFieldLength: number;
  }

  export interface ZipFile extends EventEmitter {
    readonly entryCount: number;
    readEntry(): void;
    close(): void;
    readLocalFileHeader(
      entry: Entry,
      options: { minimal: false },
      callback: (err: Error | null, header: LocalFileHeader) => void,
    ): void;
  }

  export function open(path: string, options: Options, callback: (err: Error | null, zipfile: ZipFile) => void): void;
  const yauzl: { open: typeof open };
  export default yauzl;
}
