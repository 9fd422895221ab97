// Runs the built Workers in workerd through miniflare's API, without `wrangler dev`'s per-request
// logging through Node (DESIGN §7), for benchmarks. Each Worker's bindings, vars and `.dev.vars`
// come from its wrangler config through wrangler's own translation, so a binding added to a
// wrangler.toml flows through here unchanged.
//
// usage: node run.mjs <host> <port> <persist dir> <gateway wrangler.toml> [<other wrangler.toml>…]
// The first config is the public Worker; the others are reached through its service bindings.
import path from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

const [host, port, persistRoot, ...configs] = process.argv.slice(2);
if (!host || !port || !persistRoot || configs.length === 0) {
  console.error("usage: node run.mjs <host> <port> <persist dir> <wrangler.toml>…");
  process.exit(2);
}

const workers = configs.map((configPath) => {
  const config = unstable_readConfig({ config: configPath });
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config);
  if (!main) {
    throw new Error(`${configPath} has no \`main\``);
  }
  // Service bindings name Workers. worker-build's shim (build/worker/shim.mjs) imports the
  // wasm-bindgen glue (build/index.js, an ES module) and the wasm; miniflare follows those imports.
  return {
    ...workerOptions,
    name: config.name,
    modules: true,
    scriptPath: main,
    modulesRoot: path.dirname(path.dirname(main)),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
  };
});

const miniflare = new Miniflare({
  host,
  port: Number(port),
  workers,
  log: new Log(LogLevel.WARN),
  logRequests: false,
  // No request for Cloudflare's `cf` object over the internet: the placeholder is enough locally.
  cf: false,
  // Queues, R2 and the Cache API keep their state here, as `wrangler dev --persist-to` does.
  defaultPersistRoot: persistRoot,
  cache: true,
  // `GET /cdn-cgi/handler/scheduled` with `MF-Route-Override: <worker name>` runs that Worker's cron
  // handler once: how tests drive workers/events' sweeps (wrangler dev's proxy drops the header).
  unsafeTriggerHandlers: true,
});
const url = await miniflare.ready;
console.log(`miniflare: ${workers.map((worker) => worker.name).join(", ")} on ${url}`);

const stop = async () => {
  await miniflare.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
