// The official TypeScript SDK against a claudewire simulator or gateway: a stream and a tool call round trip.
// Usage: node ts_compat.mjs <path to @anthropic-ai/sdk> <base_url> <model>
// Prints one JSON object for tests/compat/test_clients.py to check.
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { readFileSync } from "node:fs";

const [sdkDir, baseURL, model] = process.argv.slice(2);
const { default: Anthropic } = await import(pathToFileURL(join(sdkDir, "index.mjs")).href);
const version = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")).version;
const client = new Anthropic({ baseURL, apiKey: "sk-ant-sim-js-0123456789", maxRetries: 0 });
const out = { version };

const stream = client.messages.stream({ model, max_tokens: 64, messages: [{ role: "user", content: "Hello" }] });
let deltas = 0;
stream.on("text", () => { deltas += 1; });
const final = await stream.finalMessage();
out.stream = { stop_reason: final.stop_reason, deltas, text: final.content[0].text };

const tools = [{
  name: "get_weather",
  description: "The weather for a city over some days",
  input_schema: {
    type: "object",
    properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 }, metric: { type: "boolean" } },
    required: ["city", "days", "metric"],
  },
}];
const messages = [{ role: "user", content: "What is the weather in Paris? Use get_weather." }];
const call = await client.messages.create({ model, max_tokens: 256, tools, messages });
const use = call.content.find((b) => b.type === "tool_use");
messages.push({ role: "assistant", content: call.content });
messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny" }] });
const answer = await client.messages.create({ model, max_tokens: 256, tools, messages });
out.tool = { stop_reason: call.stop_reason, name: use.name, input: use.input, then: answer.stop_reason };
console.log(JSON.stringify(out));
