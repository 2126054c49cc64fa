// Drive the official TypeScript SDK through a claudewire gateway.
// Usage: node ts_sdk.mjs <path to @anthropic-ai/sdk> <base_url> <model>
// Prints one JSON object (create, stream, models, count) for the Python test to compare with direct calls.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [sdkDir, baseURL, model] = process.argv.slice(2);
const { default: Anthropic } = await import(pathToFileURL(join(sdkDir, "index.mjs")).href);
const client = new Anthropic({
  baseURL,
  apiKey: "sk-ant-sim-js-0123456789",
  maxRetries: 0,
  defaultHeaders: { "anthropic-beta": "ts-beta-2025-01-01" },
});
const messages = [{ role: "user", content: "Hello from Node" }];
const out = {};

const created = await client.messages.create({ model, max_tokens: 64, messages });
out.create = { text: created.content[0].text, stop_reason: created.stop_reason, usage: created.usage };

const stream = client.messages.stream({ model, max_tokens: 64, messages });
let deltas = 0;
stream.on("text", () => { deltas += 1; });
const final = await stream.finalMessage();
out.stream = { text: final.content[0].text, stop_reason: final.stop_reason, usage: final.usage, deltas };

const models = [];
for await (const m of client.models.list()) models.push(m.id);
out.models = models;
out.count = (await client.messages.countTokens({ model, messages })).input_tokens;
console.log(JSON.stringify(out));
