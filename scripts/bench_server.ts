/**
 * A loopback file server for the benchmarks, run as its own process so its
 * CPU time does not count against the tool being measured.
 *
 * Usage: `deno run --allow-net --allow-read scripts/bench_server.ts DIR`.
 * Prints its port on the first line of stdout. Routes:
 * - `/plain/NAME`: the file `DIR/NAME` as `application/json`;
 * - `/gzip/NAME`: the file `DIR/NAME.gz` with `Content-Encoding: gzip`;
 * - `?delay=MS` on either waits that long before answering (like a CDN).
 *
 * @module
 */

const dir = Deno.args[0];
if (dir === undefined) {
  console.error("usage: bench_server.ts DIR");
  Deno.exit(2);
}

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const delay = Number(url.searchParams.get("delay") ?? "0");
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const [, route, name] = url.pathname.split("/");
  if (name === undefined || name.includes("..")) return new Response("not found", { status: 404 });
  const gzip = route === "gzip";
  const path = `${dir}/${name}${gzip ? ".gz" : ""}`;
  try {
    const file = await Deno.open(path);
    const { size } = await file.stat();
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-length": String(size),
    };
    if (gzip) headers["content-encoding"] = "gzip";
    return new Response(file.readable, { headers });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
console.log(server.addr.port);
