import assert from "node:assert/strict";
import { ProgressBar } from "../../src/cli/progress_bar.ts";

Deno.test("ProgressBar renders percent, amount and rate when the total is known", () => {
  let t = 0;
  const bar = new ProgressBar({ label: "download", now: () => t, write: () => {}, width: 10 });
  t = 2000;
  assert.equal(
    bar.render(20_000_000, 40_000_000),
    "download  [#####-----]   50%  20.0/40.0 MB  10.0 MB/s",
  );
});

Deno.test("ProgressBar renders count and rate without a total", () => {
  let t = 0;
  const bar = new ProgressBar({ now: () => t, write: () => {} });
  t = 1000;
  assert.equal(bar.render(5_000_000), "5.0 MB  5.0 MB/s");
  const items = new ProgressBar({ unit: "items", now: () => t, write: () => {} });
  assert.equal(items.render(3, 10, "1 failed").includes("3/10  1 failed"), true);
});

Deno.test("ProgressBar redraws at most every 100 ms and clears on finish", () => {
  let t = 0;
  const frames: string[] = [];
  const bar = new ProgressBar({ now: () => t, write: (f) => frames.push(f) });
  bar.update(1, 10);
  t = 50;
  bar.update(2, 10);
  t = 150;
  bar.update(3, 10);
  assert.equal(frames.length, 2);
  assert.ok(frames.every((f) => f.startsWith("\r")));
  bar.finish();
  assert.match(frames.at(-1) ?? "", /^\r +\r$/);
});

Deno.test("ProgressBar.end() ends a drawn line with a newline, and writes nothing otherwise", () => {
  let t = 0;
  const frames: string[] = [];
  const bar = new ProgressBar({ now: () => t, write: (f) => frames.push(f) });
  bar.end();
  assert.equal(frames.length, 0, "nothing drawn, nothing to end");
  bar.update(1, 10);
  t = 200;
  bar.end();
  assert.equal(frames.at(-1), "\n");
  assert.ok(frames.at(-2)?.includes("10%"), "the last frame stays on screen");
  bar.end();
  assert.equal(frames.length, 2, "ended once");
});
