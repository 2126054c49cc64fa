// Drive the Vercel AI SDK (`ai` + `@ai-sdk/anthropic`) through a claudewire gateway, its own retries off.
// Usage: node ai_sdk.mjs <path to node_modules> <baseURL> <model>
// Prints one JSON object: {"text": ...} when the call succeeded, {"status", "message", "url"} when it failed.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [modules, baseURL, model] = process.argv.slice(2);
const load = (...parts) => import(pathToFileURL(join(modules, ...parts, "dist", "index.js")).href);
const { generateText } = await load("ai");
const { createAnthropic } = await load("@ai-sdk", "anthropic");
const anthropic = createAnthropic({ baseURL, apiKey: "sk-ant-sim-ai-sdk-0123456789" });
try {
  const { text } = await generateText({
    model: anthropic(model),
    prompt: "Hello from the Vercel AI SDK",
    maxOutputTokens: 64,
    maxRetries: 0,
  });
  console.log(JSON.stringify({ text }));
} catch (err) {
  console.log(JSON.stringify({ status: err.statusCode ?? null, message: String(err.message), url: err.url ?? null }));
}
