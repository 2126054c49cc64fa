// Drive the official TypeScript SDK against a running claudewire simulator.
// Usage: node sim_sdk.mjs <base_url> <model>
// The simulator is expected to fail every count_tokens call with 529 (path-scoped fault) and serve the rest.
// Prints one JSON object with what each call returned, for the Python test to check.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, model] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey: "sk-ant-sim-js-0123456789", maxRetries: 0 });
const out = {};

const created = await client.messages.create({
  model,
  max_tokens: 64,
  messages: [{ role: "user", content: "Hello from Node" }],
});
out.create = { text: created.content[0].text, stop_reason: created.stop_reason, usage: created.usage };

const stream = client.messages.stream({
  model,
  max_tokens: 64,
  messages: [{ role: "user", content: "Stream, please" }],
});
let deltas = 0;
stream.on("text", () => { deltas += 1; });
const final = await stream.finalMessage();
out.stream = { text: final.content[0].text, stop_reason: final.stop_reason, usage: final.usage, deltas };

try {
  await client.messages.countTokens({ model, messages: [{ role: "user", content: "count me" }] });
  out.fault = { raised: null };
} catch (err) {
  out.fault = {
    raised: err.constructor.name,
    overloaded: err instanceof Anthropic.InternalServerError && err.status === 529,
    type: err.error?.error?.type ?? null,
    request_id: err.requestID ?? null,
  };
}

console.log(JSON.stringify(out));
