// One keyless chat completion with the real JavaScript SDKs (@azure/identity + openai),
// pointed at `aoai-doctor lab serve` by its environment file (NODE_EXTRA_CA_CERTS trusts
// the lab's CA).
//
//   node chat.mjs MODE      MODE = default | cli | service-principal | managed-identity | workload-identity
//
// Prints one JSON line like chat.py. Never prints a token.
import {
  AzureCliCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  getBearerTokenProvider,
} from "@azure/identity";
import { AzureOpenAI } from "openai";

const SCOPE = "https://cognitiveservices.azure.com/.default";
const env = process.env;

function credential(mode) {
  switch (mode) {
    case "default":
      return new DefaultAzureCredential();
    case "cli":
      return new AzureCliCredential();
    case "service-principal":
      // JS runs instance discovery for a custom authority host unless told not to.
      return new ClientSecretCredential(env.AZURE_TENANT_ID, env.AZURE_CLIENT_ID, env.AZURE_CLIENT_SECRET, {
        disableInstanceDiscovery: true,
      });
    case "managed-identity":
      return env.AZURE_CLIENT_ID ? new ManagedIdentityCredential({ clientId: env.AZURE_CLIENT_ID }) : new ManagedIdentityCredential();
    case "workload-identity":
      return new WorkloadIdentityCredential({ disableInstanceDiscovery: true });
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

const mode = process.argv[2] ?? "default";
const client = new AzureOpenAI({
  endpoint: env.AZURE_OPENAI_ENDPOINT,
  apiVersion: env.OPENAI_API_VERSION,
  deployment: env.AZURE_OPENAI_DEPLOYMENT,
  azureADTokenProvider: getBearerTokenProvider(credential(mode), SCOPE),
  maxRetries: 0,
});

let out;
try {
  const r = await client.chat.completions.create({
    model: env.AZURE_OPENAI_DEPLOYMENT,
    messages: [{ role: "user", content: "ping" }],
    max_completion_tokens: 16,
  });
  out = { ok: true, content: r.choices[0].message.content, model: r.model };
} catch (e) {
  if (typeof e?.status === "number") {
    out = { ok: false, status: e.status, body: e.error ?? null, apim_request_id: e.headers?.get?.("apim-request-id") ?? null };
  } else {
    out = { ok: false, error: e?.name ?? "Error", message: String(e?.message ?? e).slice(0, 3000) };
  }
}
console.log(JSON.stringify(out));
