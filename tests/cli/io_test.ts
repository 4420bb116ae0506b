import assert from "node:assert/strict";

Deno.test("processIo prints results to stdout and errors to stderr, one line each", async () => {
  const module = new URL("../../src/cli/io.ts", import.meta.url).href;
  const code = `import { processIo } from "${module}";
processIo.print("result é");
processIo.error("problem");
processIo.print(String(processIo.isTty));`;
  const { stdout, stderr, success } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "null",
  }).output();
  assert.ok(success);
  assert.equal(new TextDecoder().decode(stdout), "result é\nfalse\n");
  assert.equal(new TextDecoder().decode(stderr), "problem\n");
});
