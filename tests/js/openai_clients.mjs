// Drive OpenAI-format Node clients through claudewire's OpenAI ingress: the official `openai` SDK and the Vercel AI
// SDK (`@ai-sdk/openai-compatible` for Chat Completions, `@ai-sdk/openai` for Responses).
// Usage: node openai_clients.mjs <gateway base URL> <api key>
// Prints one JSON object for the Python test (tests/gateway/openai/test_node_clients.py) to check.
import OpenAI from "openai";
import { generateText, streamText, tool, jsonSchema, stepCountIs } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { createOpenAI } from "@ai-sdk/openai";

const [base, apiKey] = process.argv.slice(2);
const messages = [{ role: "user", content: "Hello from Node" }];
const weatherSchema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
const out = {};

// --- the official openai SDK ---------------------------------------------------------------------------------------
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
const chat = await client.chat.completions.create({ model: "cw-haiku", messages });
out.sdk_chat = chat.choices[0].message.content;
const stream = await client.chat.completions.create({
  model: "cw-haiku", messages, stream: true, stream_options: { include_usage: true },
});
let text = "";
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) text += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
out.sdk_stream = { text, completion_tokens: usage?.completion_tokens ?? 0 };
const called = await client.chat.completions.create({
  model: "cw-haiku",
  messages,
  tools: [{ type: "function", function: { name: "get_weather", parameters: weatherSchema } }],
});
const call = called.choices[0].message.tool_calls[0];
out.sdk_tool = { name: call.function.name, arguments: JSON.parse(call.function.arguments), id: call.id };
const response = await client.responses.create({ model: "cw-haiku", input: "Hello from Node" });
out.sdk_responses = response.output_text;
out.sdk_models = [];
for await (const model of client.models.list()) out.sdk_models.push(model.id);

// --- the Vercel AI SDK -------------------------------------------------------------------------------------------
const weather = tool({
  description: "The weather in a city",
  inputSchema: jsonSchema(weatherSchema),
  execute: async ({ city }) => `18C and sunny in ${city}`,
});
const compatible = createOpenAICompatible({ name: "claudewire", baseURL: `${base}/v1`, apiKey, includeUsage: true });
out.ai_chat = (await generateText({ model: compatible("cw-haiku"), prompt: "Hello" })).text;
const streamed = streamText({ model: compatible("cw-haiku"), prompt: "Hello" });
let chunks = "";
for await (const part of streamed.textStream) chunks += part;
out.ai_stream = { text: chunks, output_tokens: (await streamed.usage).outputTokens ?? 0 };
const agent = await generateText({
  model: compatible("cw-haiku"), prompt: "Weather in Paris?", tools: { get_weather: weather }, stopWhen: stepCountIs(3),
});
out.ai_tool = { text: agent.text, steps: agent.steps.length, calls: agent.steps.flatMap((s) => s.toolCalls.map((c) => c.toolName)) };

const openai = createOpenAI({ baseURL: `${base}/v1`, apiKey });
out.ai_responses = (await generateText({ model: openai.responses("cw-haiku"), prompt: "Hello" })).text;
const rstream = streamText({ model: openai.responses("cw-haiku"), prompt: "Hello" });
let rchunks = "";
for await (const part of rstream.textStream) rchunks += part;
out.ai_responses_stream = rchunks;
const ragent = await generateText({
  model: openai.responses("cw-haiku"), prompt: "Weather in Oslo?", tools: { get_weather: weather }, stopWhen: stepCountIs(3),
});
out.ai_responses_tool = { text: ragent.text, steps: ragent.steps.length, calls: ragent.steps.flatMap((s) => s.toolCalls.map((c) => c.toolName)) };

process.stdout.write(JSON.stringify(out));
