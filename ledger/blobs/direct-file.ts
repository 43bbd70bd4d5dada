/**
 * Writes a new file past the page cache (`O_DIRECT`) where the filesystem
 * allows it: for chunk packs received from peers, which the node stores and
 * does not read back soon.
 *
 * Why: putting 256 MiB into new page-cache pages cost this VM's kernel
 * 0.1–0.7 s of CPU (a new page costs several times a reused one where free
 * memory is handed back to the host), against 0.02–0.03 s written direct, and
 * a receiving node has no core to spare for it (RFC 7). The file is still
 * fsynced, for its size and extents and the device's write cache.
 *
 * `O_DIRECT` wants the memory, the file offset and the length aligned to the
 * device's logical block, and runs far faster from page-aligned memory: on
 * the VM measured, 16 MiB writes from an address 512 bytes past a page
 * boundary (where `malloc` puts a large buffer's first 512-aligned byte)
 * stored 119–125 MiB/s, the same writes from a page boundary 726–908. Every
 * request the kernel builds from a misaligned buffer straddles pages, so the
 * device gets many more, smaller pieces. JavaScript cannot see or choose a
 * buffer's address, but a WebAssembly memory starts on a page (V8 maps it
 * whole), so the staging buffer is one. Where the flag does not exist (not
 * Linux) or a direct write is refused (`EINVAL`), files are written through
 * the page cache; the bytes on disk are the same either way.
 *
 * Synchronous calls: it runs on a worker thread (`hash-worker.ts`).
 */
import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  openSync,
  unlinkSync,
  writeSync,
  writevSync,
} from "node:fs";

/** Covers logical blocks of 512 and 4,096 bytes. */
const ALIGN = 4096;
/** A WebAssembly memory grows by pages of this size. */
const WASM_PAGE = 64 * 1024;
/** Node's `WebAssembly` global (its types come with the DOM library, which this project does not load). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };
  }
).WebAssembly;
/**
 * Each direct write is one device request of `max_sectors_kb` (4 MiB on the
 * VM measured). From misaligned memory, larger writes had been faster (more
 * requests in flight while each was slow); from page-aligned memory, the
 * path the blob bench's receive line measures (4 runs each) stored 294–377
 * MiB/s with 4 MiB, 333–381 with 2, 308–326 with 16, so the smaller buffer,
 * which also holds less memory while the hashing thread lives (RFC 7).
 */
const DEFAULT_STAGING_BYTES = 4 * 1024 * 1024;

/** A new file being written in order (`DirectFileWriter.create`). */
export interface NewFile {
  /**
   * Appends `bytes`: copied at once where written direct, else written at
   * `finish`; either way they must not change until then (a direct write
   * the kernel refuses midway starts the file again through the page cache).
   */
  append(bytes: Uint8Array): void;
  /** Writes what is left, truncates to its length, fsyncs and closes it. */
  finish(): void;
  /** Closes and removes it. */
  discard(): void;
}

export class DirectFileWriter {
  readonly #stagingBytes: number;
  /** Undefined until first needed; null once direct writes proved impossible here. */
  #staging: Buffer | null | undefined;
  #direct: boolean;

  /**
   * `direct: false` always writes through the page cache. `stagingBytes`
   * (a multiple of 4,096) bounds each direct write and the memory it holds.
   */
  constructor({
    direct = constants.O_DIRECT !== undefined,
    stagingBytes = DEFAULT_STAGING_BYTES,
  }: { direct?: boolean; stagingBytes?: number } = {}) {
    if (stagingBytes <= 0 || stagingBytes % ALIGN !== 0) {
      throw new RangeError(`stagingBytes must be a positive multiple of ${ALIGN}`);
    }
    this.#stagingBytes = stagingBytes;
    this.#direct = direct;
  }

  /** Whether the last file was (and the next will be tried) written direct. */
  get direct(): boolean {
    return this.#direct;
  }

  /**
   * Creates `path` (it must not exist) to be written in order: each part is
   * copied while the caller still has it in the CPU's cache (a received
   * chunk, just hashed), not in a second pass. On failure a call throws with
   * the errno and removes what it created.
   */
  create(path: string, mode: number): NewFile {
    if (this.#direct) {
      try {
        return this.#createDirect(path, mode);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
        this.#refused();
      }
    }
    return createBuffered(path, mode);
  }

  /** The filesystem refuses direct writes (or this alignment): stop trying. */
  #refused(): void {
    this.#direct = false;
    this.#staging = null;
  }

  #createDirect(path: string, mode: number): NewFile {
    const fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT,
      mode,
    );
    let staging: Buffer;
    try {
      staging = this.#alignedStaging(fd);
    } catch (error) {
      removeNew(path, fd);
      throw error;
    }
    const appended: Uint8Array[] = [];
    let filled = 0;
    let position = 0;
    let total = 0;
    let open = true;
    /** The same file through the page cache, once a direct write was refused midway. */
    let buffered: NewFile | undefined;
    const fail = (error: unknown): void => {
      open = false;
      removeNew(path, fd);
      if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
      this.#refused();
      buffered = createBuffered(path, mode);
      for (const part of appended) buffered.append(part);
    };
    return {
      append: (bytes) => {
        if (buffered) return buffered.append(bytes);
        appended.push(bytes);
        total += bytes.length;
        try {
          let from = 0;
          while (from < bytes.length) {
            const take = Math.min(bytes.length - from, staging.length - filled);
            staging.set(bytes.subarray(from, from + take), filled);
            filled += take;
            from += take;
            if (filled === staging.length) {
              writeFully(fd, staging, position);
              position += filled;
              filled = 0;
            }
          }
        } catch (error) {
          fail(error);
        }
      },
      finish: () => {
        if (!buffered) {
          try {
            if (filled > 0) {
              const padded = Math.ceil(filled / ALIGN) * ALIGN;
              staging.fill(0, filled, padded);
              writeFully(fd, staging.subarray(0, padded), position);
              ftruncateSync(fd, total);
            }
            fsyncSync(fd);
          } catch (error) {
            fail(error);
          }
        }
        if (buffered) return buffered.finish();
        open = false;
        closeSync(fd);
      },
      discard: () => {
        if (buffered) return buffered.discard();
        if (open) removeNew(path, fd);
        open = false;
      },
    };
  }

  /** The staging buffer, on a page boundary, once a direct write from it to `fd` was accepted. */
  #alignedStaging(fd: number): Buffer {
    if (this.#staging) return this.#staging;
    let memory: ArrayBuffer;
    try {
      memory = new wasm.Memory({ initial: Math.ceil(this.#stagingBytes / WASM_PAGE) }).buffer;
    } catch (error) {
      // No room to map it (a small address space, a memory limit): the page
      // cache then, as for a filesystem that refuses direct writes.
      throw Object.assign(new Error(`no page-aligned staging memory: ${String(error)}`), {
        code: "EINVAL",
      });
    }
    const staging = Buffer.from(memory).subarray(0, this.#stagingBytes);
    // Lands at offset 0 of the new file, which the real bytes overwrite;
    // a refusal (EINVAL) sends this file and the next through the page cache.
    writeSync(fd, staging, 0, ALIGN, 0);
    this.#staging = staging;
    return staging;
  }
}

/** A new file written through the page cache: the parts are kept and written at `finish`. */
function createBuffered(path: string, mode: number): NewFile {
  const fd = openSync(path, "wx", mode);
  const parts: Uint8Array[] = [];
  let open = true;
  return {
    append: (bytes) => {
      parts.push(bytes);
    },
    finish: () => {
      try {
        writevFully(fd, parts);
        fsyncSync(fd);
      } catch (error) {
        open = false;
        removeNew(path, fd);
        throw error;
      }
      open = false;
      closeSync(fd);
    },
    discard: () => {
      if (open) removeNew(path, fd);
      open = false;
    },
  };
}

/** Closes `fd` and removes the file it was created as. */
function removeNew(path: string, fd: number): void {
  try {
    closeSync(fd);
  } catch {}
  try {
    unlinkSync(path);
  } catch {}
}

function writeFully(fd: number, bytes: Buffer, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    const written = writeSync(fd, bytes, done, bytes.length - done, position + done);
    if (written <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
    done += written;
  }
}

/** Writes `parts` in order with gathered writes, until all of them are written. */
function writevFully(fd: number, parts: Uint8Array[]): void {
  let pending = parts.filter((p) => p.length > 0);
  while (pending.length > 0) {
    let written = writevSync(fd, pending);
    if (written <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
    while (pending.length > 0 && written >= pending[0]!.length) {
      written -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (written > 0) pending = [pending[0]!.subarray(written), ...pending.slice(1)];
  }
}
