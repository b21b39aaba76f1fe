// Streams one run with the official SDK (@dust-tt/client 1.2.4) and counts its events.
// Usage: node run.mjs BASE_URL WORKSPACE SPACE APP HASH  → prints {"events": N, "seconds": S}
import { DustAPI } from "@dust-tt/client";

const [url, workspaceId, appSpaceId, appId, appHash] = process.argv.slice(2);
const quiet = { error() {}, info() {}, warn() {}, debug() {} };
const api = new DustAPI({ url }, { apiKey: "bench", workspaceId }, quiet);
const t0 = performance.now();
const res = await api.runAppStreamed({ workspaceId, appId, appSpaceId, appHash }, {}, [{}]);
if (res.isErr()) {
  console.error(JSON.stringify(res.error));
  process.exit(1);
}
let events = 0;
for await (const event of res.value.eventStream) {
  events += 1;
}
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ events, seconds }));
