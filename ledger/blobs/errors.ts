import { GdoError, VerificationError } from "../errors.ts";

/**
 * Failures of the blob store. Each has a stable `code` and structured `data`
 * naming the blob, chunk, file or field concerned; callers branch on `code`.
 * "The bytes do not verify" failures extend `VerificationError` (CLI exit 1),
 * everything else is "could not run" (exit 3).
 */

/** Chunker parameters out of range or malformed (`data.field` names which). */
export class ChunkerParamsError extends GdoError {
  constructor(message: string, data: { source: string; field: string }) {
    super("chunker-params-invalid", message, data);
  }
}

/** The store was created with other cut rules than the ones asked for. */
export class ChunkerMismatchError extends GdoError {
  constructor(message: string, data: { store: string; expected: string; actual: string }) {
    super("chunker-mismatch", message, data);
  }
}

/** A manifest (pointer file) does not parse or does not add up (`data.source`, `data.field`, `data.line`). */
export class ManifestFormatError extends GdoError {
  constructor(message: string, data: { source: string; field: string; line?: number }) {
    super("manifest-invalid", message, data);
  }
}

/** A chunk or manifest id is not 64 lowercase hex characters, or a pointer name is not a plain file name. */
export class InvalidIdError extends GdoError {
  constructor(message: string, data: { id: string; kind: string }) {
    super("invalid-id", message, data);
  }
}

/** A chunk's bytes do not hash to its id (bit flip, truncation, wrong data from a peer). */
export class ChunkCorruptError extends VerificationError {
  constructor(
    message: string,
    data: { chunk: string; actual: string; size: number; path?: string; blob?: string },
  ) {
    super("chunk-corrupt", message, data);
  }
}

/** A chunk pack's index or trailer does not verify (`data.path`, `data.reason`); its chunks count as missing. */
export class ChunkPackCorruptError extends VerificationError {
  constructor(message: string, data: { path: string; reason: string }) {
    super("chunk-pack-corrupt", message, data);
  }
}

/** A chunk a manifest references is not in the store. */
export class ChunkMissingError extends GdoError {
  constructor(message: string, data: { chunk: string; blob?: string }) {
    super("chunk-missing", message, data);
  }
}

/** No manifest with this id is in the store. */
export class BlobNotFoundError extends GdoError {
  constructor(message: string, data: { blob: string }) {
    super("blob-not-found", message, data);
  }
}

/** Reassembled bytes do not match the manifest (whole-blob size or SHA-256, or a chunk's length). */
export class BlobCorruptError extends VerificationError {
  constructor(
    message: string,
    data: {
      blob: string;
      reason: string;
      chunk?: string;
      expectedSha256?: string;
      actualSha256?: string;
      size?: number;
    },
  ) {
    super("blob-corrupt", message, data);
  }
}

/** A stored manifest's bytes do not hash to its id, or do not parse. */
export class ManifestCorruptError extends VerificationError {
  constructor(message: string, data: { blob: string; reason: string; path: string }) {
    super("manifest-corrupt", message, data);
  }
}

/** `check` found chunks that are missing or do not verify; `data.blobs` lists every blob affected. */
export class StoreCheckError extends VerificationError {
  constructor(
    message: string,
    data: {
      badChunks: string[];
      missingChunks: string[];
      blobs: string[];
      badManifests: string[];
      damagedPacks: string[];
    },
  ) {
    super("blob-check-failed", message, data);
  }
}

/** Writing to the store failed (`data.reason` is the errno code, e.g. ENOSPC); nothing was left under a final name. */
export class BlobWriteError extends GdoError {
  constructor(
    message: string,
    data: { path: string; reason: string; chunk?: string },
    options?: ErrorOptions,
  ) {
    super("blob-write-failed", message, data, options);
  }
}

/** Another gc holds the store's gc lock, or puts stayed in flight past the wait. */
export class StoreBusyError extends GdoError {
  constructor(message: string, data: { store: string; holder: string }) {
    super("store-busy", message, data);
  }
}
