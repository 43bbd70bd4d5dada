/** Puts a blob through a running node's HTTP API (its write token read from `dataDir`). */
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";

export function postBlob(
  httpPort: number,
  dataDir: string,
  content: Buffer,
  name = "bench.bin",
): Promise<{ id: string }> {
  const token = readFileSync(join(dataDir, "api-token"), "utf8").trim();
  return new Promise((done, fail) => {
    const req = request(
      `http://127.0.0.1:${httpPort}/api/blobs?path=blobs/${name}.blob`,
      { method: "POST", headers: { authorization: `Bearer ${token}` }, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => {
          const value = JSON.parse(Buffer.concat(parts).toString("utf8"));
          if (res.statusCode !== 200) fail(new Error(JSON.stringify(value)));
          else done(value);
        });
      },
    );
    req.on("error", fail);
    const piece = 4 * 1024 * 1024;
    let sent = 0;
    const pump = () => {
      while (sent < content.length) {
        const slice = content.subarray(sent, sent + piece);
        sent += slice.length;
        if (!req.write(slice)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}
