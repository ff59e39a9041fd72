// One keyless call the way today's Microsoft docs write it for JavaScript: the plain
// `OpenAI` client with `baseURL = …/openai/v1/` and `apiKey: getBearerTokenProvider(cred,
// "https://ai.azure.com/.default")`, no api-version; pointed at `aoai-doctor lab serve` by its
// environment file (NODE_EXTRA_CA_CERTS trusts the lab's CA).
//
//   node v1.mjs MODE SURFACE API   MODE = cli | service-principal; SURFACE = resource | project; API = chat | responses
//
// Prints one JSON line like chat.mjs. Never prints a token.
import { AzureCliCredential, ClientSecretCredential, getBearerTokenProvider } from "@azure/identity";
import OpenAI from "openai";

const SCOPE = "https://ai.azure.com/.default";
const env = process.env;

function credential(mode) {
  switch (mode) {
    case "cli":
      return new AzureCliCredential();
    case "service-principal":
      return new ClientSecretCredential(env.AZURE_TENANT_ID, env.AZURE_CLIENT_ID, env.AZURE_CLIENT_SECRET, {
        disableInstanceDiscovery: true,
      });
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

function baseURL(surface) {
  if (surface === "resource") return env.AZURE_OPENAI_ENDPOINT.replace(/\/+$/, "") + "/openai/v1/";
  if (surface === "project") return env.AZURE_AI_PROJECT_ENDPOINT.replace(/\/+$/, "") + "/openai/v1";
  throw new Error(`unknown surface ${surface}`);
}

async function call(client, api) {
  const model = env.AZURE_OPENAI_DEPLOYMENT;
  if (api === "chat") {
    const r = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "ping" }],
      max_completion_tokens: 16,
    });
    return { content: r.choices[0].message.content, model: r.model };
  }
  if (api === "responses") {
    const r = await client.responses.create({ model, input: "ping", store: false, max_output_tokens: 16 });
    return { content: r.output_text, model: r.model };
  }
  throw new Error(`unknown api ${api}`);
}

const [mode = "cli", surface = "resource", api = "chat"] = process.argv.slice(2);
const client = new OpenAI({
  baseURL: baseURL(surface),
  apiKey: getBearerTokenProvider(credential(mode), SCOPE),
  maxRetries: 0,
});

let out;
try {
  out = { ok: true, ...(await call(client, api)) };
} catch (e) {
  if (typeof e?.status === "number") {
    out = { ok: false, status: e.status, body: e.error ?? null, apim_request_id: e.headers?.get?.("apim-request-id") ?? null };
  } else {
    out = { ok: false, error: e?.name ?? "Error", message: String(e?.message ?? e).slice(0, 3000) };
  }
}
console.log(JSON.stringify(out));
