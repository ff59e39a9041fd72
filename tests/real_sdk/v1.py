"""One keyless call the way today's Microsoft docs write it: the plain `OpenAI` client with
`base_url = …/openai/v1/`, a bearer-token provider for https://ai.azure.com/.default as
`api_key`, and no api-version; pointed at `aoai-doctor lab serve` by its environment file.

    python v1.py MODE SURFACE API
      MODE    = default | cli | service-principal
      SURFACE = resource (AZURE_OPENAI_ENDPOINT + openai/v1/) | project (AZURE_AI_PROJECT_ENDPOINT + /openai/v1/)
              | project-sdk (the real azure-ai-projects 2.x: AIProjectClient(endpoint=AZURE_AI_PROJECT_ENDPOINT).get_openai_client())
      API     = chat | responses

Prints one JSON line like chat.py. Never prints a token.
"""
import json
import os
import sys

from azure.identity import (
    AzureCliCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    get_bearer_token_provider,
)
from openai import APIStatusError, OpenAI

SCOPE = "https://ai.azure.com/.default"


def credential(mode):
    if mode == "default":
        return DefaultAzureCredential(
            disable_instance_discovery=True,
            exclude_shared_token_cache_credential=True,
            exclude_visual_studio_code_credential=True,
            exclude_powershell_credential=True,
            exclude_developer_cli_credential=True,
            exclude_interactive_browser_credential=True,
        )
    if mode == "cli":
        return AzureCliCredential()
    if mode == "service-principal":
        return ClientSecretCredential(
            os.environ["AZURE_TENANT_ID"],
            os.environ["AZURE_CLIENT_ID"],
            os.environ["AZURE_CLIENT_SECRET"],
            disable_instance_discovery=True,
        )
    raise SystemExit(f"unknown mode {mode}")


def base_url(surface):
    if surface == "resource":
        return os.environ["AZURE_OPENAI_ENDPOINT"].rstrip("/") + "/openai/v1/"
    if surface == "project":
        # What azure-ai-projects 2.x get_openai_client() builds: endpoint + "/openai/v1".
        return os.environ["AZURE_AI_PROJECT_ENDPOINT"].rstrip("/") + "/openai/v1"
    raise SystemExit(f"unknown surface {surface}")


def call(client, api):
    model = os.environ["AZURE_OPENAI_DEPLOYMENT"]
    if api == "chat":
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "ping"}], max_completion_tokens=16
        )
        return r.choices[0].message.content, r.model
    if api == "responses":
        r = client.responses.create(model=model, input="ping", store=False, max_output_tokens=16)
        return r.output_text, r.model
    raise SystemExit(f"unknown api {api}")


def main():
    args = sys.argv[1:] + [None] * 3
    mode, surface, api = args[0] or "default", args[1] or "resource", args[2] or "chat"
    if surface == "project-sdk":
        # The SDK builds base_url and the token provider (scope) itself: nothing passed here.
        from azure.ai.projects import AIProjectClient

        project = AIProjectClient(endpoint=os.environ["AZURE_AI_PROJECT_ENDPOINT"], credential=credential(mode))
        client = project.get_openai_client(max_retries=0)
    else:
        client = OpenAI(
            base_url=base_url(surface),
            api_key=get_bearer_token_provider(credential(mode), SCOPE),
            max_retries=0,
        )
    try:
        content, model = call(client, api)
        out = {"ok": True, "content": content, "model": model}
    except APIStatusError as e:
        out = {"ok": False, "status": e.status_code, "body": e.body,
               "apim_request_id": e.response.headers.get("apim-request-id")}
    except Exception as e:  # credential failures: keep the SDK's own words
        out = {"ok": False, "error": type(e).__name__, "message": str(e)[:3000]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
