import assert from "node:assert/strict";
import { rssByTenth } from "../../scripts/soak.ts";

Deno.test("rssByTenth: one median per tenth of the run, '-' where a worker had no sample", () => {
  const samples: [number, number][] = [[5, 100], [12, 110], [15, 130], [95, 150], [100, 152]];
  assert.deepEqual(rssByTenth(samples, 100), [
    "100",
    "120",
    "-",
    "-",
    "-",
    "-",
    "-",
    "-",
    "-",
    "151",
  ]);
});
