import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { streamPair } from "@libp2p/utils";
import { BufferPool, ChunkGroup } from "../../node/chunk-group.ts";
import { encodeFrame, FrameBatch, FrameReader } from "../../node/frame.ts";

/** Sends `bytes` in pieces of random sizes (1 byte to 3 KiB), as a network might cut them. */
function sendInPieces(stream: Awaited<ReturnType<typeof streamPair>>[0], bytes: Uint8Array) {
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(Math.random() * 3072);
    stream.send(bytes.subarray(at, at + size));
    at += size;
  }
}

const join = (pieces: Uint8Array[]) => Buffer.concat(pieces);

describe("frames", () => {
  it("should read frames whole however the stream cuts them, payloads in pieces or joined", async () => {
    const [out, inb] = await streamPair();
    const reader = new FrameReader(inb, { maxFrame: 1 << 20, idleMs: 5_000 });
    const sent = [1, 31, 200, 4096, 100_000, 65_536].map((n, k) => ({
      kind: k + 1,
      payload: randomBytes(n),
    }));
    sendInPieces(out, Buffer.concat(sent.map((f) => encodeFrame(f.kind, [f.payload]))));
    await out.close();
    for (const [k, f] of sent.entries()) {
      if (k % 2 === 0) {
        const got = await reader.next();
        assert.equal(got?.kind, f.kind);
        assert.deepEqual(Buffer.from(got!.payload), f.payload);
      } else {
        const got = await reader.nextPieces();
        assert.equal(got?.kind, f.kind);
        assert.equal(got?.length, f.payload.length);
        assert.deepEqual(join(got!.pieces), f.payload);
      }
    }
    assert.equal(await reader.next(), undefined, "the peer's clean close ends the frames");
    assert.equal(
      reader.bytes,
      sent.reduce((n, f) => n + 1 + f.payload.length, 0),
    );
  });

  it("should refuse a frame over the limit from its length prefix alone", async () => {
    const [out, inb] = await streamPair();
    const reader = new FrameReader(inb, { maxFrame: 1024, idleMs: 5_000 });
    // Only the prefix of a 1 MiB frame is sent: the refusal must not wait for its bytes.
    out.send(encodeFrame(7, [new Uint8Array(1 << 20)]).subarray(0, 4));
    await assert.rejects(reader.next(), {
      code: "protocol-error",
      message: /longer than the 1024-byte limit/,
    });
  });

  it("should pause a stream whose peer sends more than the limit ahead of being read, and lose nothing", async () => {
    const [out, inb] = await streamPair();
    const reader = new FrameReader(inb, { maxFrame: 4096, idleMs: 5_000, maxBuffered: 64 * 1024 });
    const sent = Array.from({ length: 60 }, () => randomBytes(4000));
    for (const payload of sent) out.send(encodeFrame(1, [payload]));
    await out.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(inb.readStatus, "paused", "held back by flow control, not read into memory");
    for (const payload of sent)
      assert.deepEqual(Buffer.from((await reader.next())!.payload), payload);
    assert.equal(await reader.next(), undefined);
  });

  it("should read what a stream holds when the reader comes after the peer closed", async () => {
    const [out, inb] = await streamPair();
    const payload = randomBytes(3000);
    out.send(encodeFrame(4, [payload]));
    await out.close();
    await new Promise((r) => setTimeout(r, 50));
    const reader = new FrameReader(inb, { maxFrame: 4096, idleMs: 5_000 });
    assert.deepEqual(Buffer.from((await reader.expect([4])).payload), payload);
    assert.equal(await reader.next(), undefined);
  });

  it("should name a stream that ends inside a frame, and one that stalls", async () => {
    const [out, inb] = await streamPair();
    const reader = new FrameReader(inb, { maxFrame: 4096, idleMs: 5_000 });
    out.send(encodeFrame(1, [randomBytes(100)]).subarray(0, 50));
    await out.close();
    await assert.rejects(reader.next(), { message: /stream ended inside a frame/ });

    const [quiet, listening] = await streamPair();
    const idle = new FrameReader(listening, { maxFrame: 4096, idleMs: 200 });
    await assert.rejects(idle.next(), { message: /no data for 200 ms/ });
    quiet.abort(new Error("test over"));
  });

  it("should send batched frames in order, filled in place, without a taken-back one", async () => {
    const [out, inb] = await streamPair();
    const reader = new FrameReader(inb, { maxFrame: 1 << 20, idleMs: 5_000 });
    const batch = new FrameBatch(out, 8 * 1024);
    const expected: { kind: number; payload: Buffer }[] = [];
    for (let i = 0; i < 50; i++) {
      const head = Buffer.from([i]);
      const body = randomBytes(500 + i * 37);
      if (i % 3 === 0) {
        await batch.add(2, [head, body]);
      } else {
        batch.reserve(3, head, body.length).set(body);
        await batch.flushIfFull();
      }
      expected.push({ kind: i % 3 === 0 ? 2 : 3, payload: Buffer.concat([head, body]) });
      if (i % 10 === 5) {
        batch.reserve(9, head, 100);
        batch.unreserve();
      }
    }
    await batch.flush();
    await out.close();
    for (const e of expected) {
      const got = await reader.next();
      assert.equal(got?.kind, e.kind);
      assert.deepEqual(Buffer.from(got!.payload), e.payload);
    }
    assert.equal(await reader.next(), undefined, "no frame was sent for a taken-back reservation");
  });
});

describe("chunk groups", () => {
  it("should place chunks end to end in one buffer, and refuse one that does not fit", () => {
    const group = new ChunkGroup<string>(new Uint8Array(100));
    const a = randomBytes(40);
    const b = randomBytes(50);
    group.reserve("a", a.length).set(a);
    group.reserve("b", b.length).set(b);
    assert.deepEqual(Buffer.from(group.items[0]!.bytes), a);
    assert.deepEqual(Buffer.from(group.items[1]!.bytes), b);
    assert.equal(group.items[1]!.bytes.buffer, group.items[0]!.bytes.buffer, "one buffer");
    assert.equal(group.items[1]!.bytes.byteOffset, 40, "end to end");
    assert.equal(group.bytes, 90);
    assert.equal(group.fits(10), true);
    assert.equal(group.fits(11), false);
    assert.throws(() => group.reserve("c", 11), RangeError);
    assert.equal(group.items.length, 2, "nothing placed for a chunk that does not fit");
  });

  it("should hand back pooled buffers and allocate only what the pool does not hold", () => {
    const pool = new BufferPool({ size: 1024, keep: 1 });
    const first = pool.take(100);
    assert.equal(first.length, 1024);
    pool.give(first);
    assert.equal(pool.take(1000), first, "reused");
    const large = pool.take(5000);
    assert.equal(large.length, 5000);
    pool.give(large);
    const small = pool.take(10);
    assert.notEqual(small, large, "a buffer of another size is not kept");
    pool.give(small);
    pool.clear();
    assert.equal(small.length, 0, "cleared: its memory is given back (the buffer is detached)");
    assert.notEqual(pool.take(10), small, "cleared: nothing held");
  });
});
