import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { streamPair } from "@libp2p/utils";
import { ChunkAnswers, type ChunkAnswersInit } from "../../node/chunk-answers.ts";
import { BufferPool, type ChunkGroup } from "../../node/chunk-group.ts";
import { CHUNK, MISSING } from "../../node/chunk-wire.ts";
import { encodeFrame } from "../../node/frame.ts";

type Stream = Awaited<ReturnType<typeof streamPair>>[0];

interface Asked {
  name: string;
  id: Buffer;
  bytes: Buffer;
}

const chunk = (name: string, size: number): Asked => ({
  name,
  id: randomBytes(32),
  bytes: randomBytes(size),
});
const idsOf = (items: Asked[]) => Buffer.concat(items.map((a) => a.id));
const answerOf = (a: Asked) => encodeFrame(CHUNK, [a.id, a.bytes]);

/** Sends `bytes` in pieces of random sizes (1 byte to 3 KiB), as a network might cut them. */
function sendInPieces(stream: Stream, bytes: Uint8Array) {
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(Math.random() * 3072);
    stream.send(bytes.subarray(at, at + size));
    at += size;
  }
}

/** Answers read from `stream` whose stored groups are recorded (copied: buffers are reused). */
function reader(stream: Stream, init: Partial<ChunkAnswersInit<Asked>> = {}) {
  const stored: { name: string; bytes: Buffer }[][] = [];
  const missing: string[] = [];
  const pool = new BufferPool({ size: 16 * 1024, keep: 4 });
  const answers = new ChunkAnswers<Asked>(stream, {
    buffers: pool,
    store: async (group: ChunkGroup<Asked>) => {
      stored.push(
        group.items.map(({ item, bytes }) => ({ name: item.name, bytes: Buffer.from(bytes) })),
      );
      return group.buffer;
    },
    missing: (item) => missing.push(item.name),
    maxChunk: 64 * 1024,
    idleMs: 5_000,
    maxStoring: 3,
    signal: new AbortController().signal,
    ...init,
  });
  return { answers, stored, missing, pool };
}

describe("chunk answers", () => {
  it("should copy each chunk into groups as its bytes arrive, in the GETs' order, however the stream cuts them", async () => {
    const [server, client] = await streamPair();
    const { answers, stored, missing } = reader(client);
    const first = [chunk("a", 5000), chunk("b", 1), chunk("gone", 0), chunk("c", 9000)];
    const second = [chunk("d", 12_000), chunk("e", 7000)];
    const one = answers.expect(first, idsOf(first));
    const two = answers.expect(second, idsOf(second));
    sendInPieces(
      server,
      Buffer.concat([
        answerOf(first[0]!),
        answerOf(first[1]!),
        encodeFrame(MISSING, [first[2]!.id]),
        answerOf(first[3]!),
        ...second.map(answerOf),
      ]),
    );
    await (await one).stored;
    await (await two).stored;
    assert.deepEqual(missing, ["gone"]);
    // 16 KiB buffers: the second answer spills into a second group.
    assert.deepEqual(
      stored.map((group) => group.map((c) => c.name)),
      [["a", "b", "c"], ["d"], ["e"]],
    );
    const all = new Map([...first, ...second].map((a) => [a.name, a.bytes]));
    for (const c of stored.flat()) assert.deepEqual(c.bytes, all.get(c.name), c.name);
    server.abort(new Error("test over"));
  });

  it("should fail the stream on an answer out of order, of an unknown kind, too long, or to no GET", async () => {
    const cases: { frame: (asked: Asked) => Uint8Array; message: RegExp }[] = [
      {
        frame: () => encodeFrame(CHUNK, [randomBytes(32), randomBytes(10)]),
        message: /out of order/,
      },
      { frame: (a) => encodeFrame(0x99, [a.id]), message: /unexpected message kind 0x99/ },
      // Only the head of an oversized frame is sent: it is refused before its bytes.
      {
        frame: (a) => encodeFrame(CHUNK, [a.id, new Uint8Array(65 * 1024)]).subarray(0, 40),
        message: /longer than any chunk's answer/,
      },
      { frame: (a) => encodeFrame(MISSING, [a.id, randomBytes(1)]), message: /only an id/ },
    ];
    for (const { frame, message } of cases) {
      const [server, client] = await streamPair();
      const { answers, stored } = reader(client);
      const asked = chunk("a", 100);
      const answer = answers.expect([asked], idsOf([asked]));
      server.send(frame(asked));
      await assert.rejects(answer, { code: "protocol-error", message });
      assert.equal(stored.length, 0);
      assert.notEqual(client.status, "open", "the stream is aborted");
    }
    const [server, client] = await streamPair();
    const { answers } = reader(client);
    const stray = chunk("stray", 10);
    server.send(answerOf(stray));
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(answers.expect([stray], idsOf([stray])), { message: /to no GET/ });
  });

  it("should pause the stream while groups are being stored, and lose nothing when it resumes", async () => {
    const [server, client] = await streamPair();
    const releases: (() => void)[] = [];
    const stored: string[] = [];
    const { answers } = reader(client, {
      maxStoring: 2,
      store: (group) =>
        new Promise<Uint8Array>((release) => {
          for (const { item } of group.items) stored.push(item.name);
          releases.push(() => release(group.buffer));
        }),
    });
    const gets = Array.from({ length: 6 }, (_, k) => [chunk(`c${k}`, 10_000)]);
    const answered = gets.map((items) => answers.expect(items, idsOf(items)));
    for (const items of gets) server.send(answerOf(items[0]!));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(client.readStatus, "paused", "two groups being stored hold the stream");
    assert.deepEqual(stored, ["c0", "c1"]);
    while (stored.length < 6) {
      releases.shift()!();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const release of releases) release();
    for (const answer of answered) await (await answer).stored;
    assert.deepEqual(stored, ["c0", "c1", "c2", "c3", "c4", "c5"]);
    server.abort(new Error("test over"));
  });

  it("should report a group that could not be stored in its answer, and read on", async () => {
    const [server, client] = await streamPair();
    let stores = 0;
    const { answers } = reader(client, {
      store: async (group) => {
        // The first answer spills into two groups; the first of them fails at once.
        if (stores++ === 0) throw new Error("disk full");
        return group.buffer;
      },
    });
    const first = [chunk("a", 12_000), chunk("b", 12_000), chunk("c", 100)];
    const second = [chunk("d", 100)];
    const one = answers.expect(first, idsOf(first));
    const two = answers.expect(second, idsOf(second));
    // b does not fit a's group: a's group is stored, and fails, before the rest of its answer comes.
    server.send(Buffer.concat([answerOf(first[0]!), answerOf(first[1]!)]));
    await new Promise((r) => setTimeout(r, 50));
    server.send(Buffer.concat([answerOf(first[2]!), answerOf(second[0]!)]));
    await assert.rejects((await one).stored, { message: "disk full" });
    await (await two).stored;
    server.abort(new Error("test over"));
  });

  it("should fail what is asked when the peer stalls, ends early, or the node stops", async () => {
    const [quiet, listening] = await streamPair();
    const idle = reader(listening, { idleMs: 200 }).answers;
    const a = chunk("a", 10);
    await assert.rejects(idle.expect([a], idsOf([a])), { message: /no data for 200 ms/ });
    quiet.abort(new Error("test over"));

    const [closing, client] = await streamPair();
    const early = reader(client).answers;
    const answer = early.expect([a], idsOf([a]));
    closing.send(answerOf(a).subarray(0, 20));
    await closing.close();
    await assert.rejects(answer, { message: /before every GET was answered/ });

    const [server, stopping] = await streamPair();
    const controller = new AbortController();
    const stopped = reader(stopping, { signal: controller.signal }).answers;
    const pending = stopped.expect([a], idsOf([a]));
    controller.abort(new Error("node stopping"));
    await assert.rejects(pending, { message: "node stopping" });
    server.abort(new Error("test over"));
  });

  it("should fail an answer that trickles in slower than the minimum rate, keeping what arrived whole", async (t) => {
    const options = { minRate: 10_000, lengthOf: (a: Asked) => a.bytes.length, idleMs: 300 };
    const asked = [chunk("a", 1000), chunk("b", 9000)];
    const bytes = Buffer.concat(asked.map(answerOf));

    // 10,000 bytes at 10,000 bytes/s: due within a second; 2,000 bytes/s
    // arrive, in pieces close enough together for the idle timer.
    const [server, client] = await streamPair();
    const { answers, stored } = reader(client, options);
    const answer = answers.expect(asked, idsOf(asked));
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < bytes.length) server.send(bytes.subarray(sent, sent + 100));
      sent += 100;
    }, 50);
    t.after(() => clearInterval(trickle));
    await assert.rejects(answer, { message: /an answer of 10000 bytes was not in after \d+ ms/ });
    assert.ok(sent < bytes.length, "failed before the trickle was done");
    assert.deepEqual(
      stored.map((group) => group.map((c) => c.name)),
      [["a"]],
    );
    server.abort(new Error("test over"));

    // The same answer at full speed meets the same rate.
    const [fast, reading] = await streamPair();
    const quick = reader(reading, options);
    const done = quick.answers.expect(asked, idsOf(asked));
    fast.send(Buffer.concat(asked.map(answerOf)));
    await (await done).stored;
    assert.deepEqual(
      quick.stored.flatMap((group) => group.map((c) => c.name)),
      ["a", "b"],
    );
    fast.abort(new Error("test over"));
  });

  it("should store the chunks that arrived whole when the stream fails mid-answer, but not when the node stops", async () => {
    const asked = [chunk("a", 3000), chunk("b", 4000), chunk("torn", 5000), chunk("never", 10)];
    const cut = Buffer.concat([
      answerOf(asked[0]!),
      answerOf(asked[1]!),
      answerOf(asked[2]!).subarray(0, 1000),
    ]);

    const [server, client] = await streamPair();
    const { answers, stored } = reader(client);
    const answer = answers.expect(asked, idsOf(asked));
    sendInPieces(server, cut);
    // Let every piece be delivered before the peer drops.
    await new Promise((done) => setTimeout(done, 50));
    server.abort(new Error("peer gone"));
    // Rejected only once the chunks that arrived are stored.
    await assert.rejects(answer, { message: /stream failed|before every GET was answered/ });
    assert.deepEqual(
      stored.map((group) => group.map((c) => c.name)),
      [["a", "b"]],
    );
    assert.ok(stored[0]![1]!.bytes.equals(asked[1]!.bytes), "b's bytes, not the torn chunk's");

    const [other, stopping] = await streamPair();
    const controller = new AbortController();
    const stop = reader(stopping, { signal: controller.signal });
    const pending = stop.answers.expect(asked, idsOf(asked));
    sendInPieces(other, cut);
    await new Promise((done) => setTimeout(done, 50));
    controller.abort(new Error("node stopping"));
    await assert.rejects(pending, { message: "node stopping" });
    assert.deepEqual(stop.stored, [], "nothing is written while the node stops");
    other.abort(new Error("test over"));
  });
});
