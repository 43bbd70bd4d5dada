import assert from "node:assert/strict";
import { test } from "node:test";
import { shown } from "../../site/build-command.ts";

test("should name an output inside the working folder relative to it, and one outside whole", () => {
  assert.equal(shown("/srv/gdo", "/srv/gdo/dist"), "dist");
  assert.equal(shown("/srv/gdo", "/srv/gdo"), ".");
  // A node builds from the project's folder; its data folder may be anywhere.
  assert.equal(shown("/srv/gdo", "/home/door/site/dist"), "/home/door/site/dist");
  assert.equal(shown("/srv/gdo", "/srv/gdo-other/dist"), "/srv/gdo-other/dist");
});
