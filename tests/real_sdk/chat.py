"""One keyless chat completion, the way an app does it: a real azure-identity credential
and the real openai client, pointed at `aoai-doctor lab serve` by its environment file.

    python chat.py MODE      MODE = default | cli | service-principal | managed-identity | workload-identity

Prints one JSON line: {"ok": true, "content": ...} or {"ok": false, "status": 401, "body": {...}}
(or {"ok": false, "error": "<exception type>", "message": ...} when no token could be had).
Never prints a token.
"""
import json
import os
import sys

from azure.identity import (
    AzureCliCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
    get_bearer_token_provider,
)
from openai import APIStatusError, AzureOpenAI

SCOPE = "https://cognitiveservices.azure.com/.default"


def credential(mode):
    if mode == "default":
        # A custom authority host needs instance discovery off (measured with the real SDK); the
        # interactive and IDE links have nothing to find here.
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
    if mode == "managed-identity":
        return ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID"))
    if mode == "workload-identity":
        return WorkloadIdentityCredential()
    raise SystemExit(f"unknown mode {mode}")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "default"
    client = AzureOpenAI(
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        api_version=os.environ["OPENAI_API_VERSION"],
        azure_ad_token_provider=get_bearer_token_provider(credential(mode), SCOPE),
        max_retries=0,
    )
    try:
        r = client.chat.completions.create(
            model=os.environ["AZURE_OPENAI_DEPLOYMENT"],
            messages=[{"role": "user", "content": "ping"}],
            max_completion_tokens=16,
        )
        out = {"ok": True, "content": r.choices[0].message.content, "model": r.model}
    except APIStatusError as e:
        out = {"ok": False, "status": e.status_code, "body": e.body,
               "apim_request_id": e.response.headers.get("apim-request-id")}
    except Exception as e:  # credential failures: keep the SDK's own words
        out = {"ok": False, "error": type(e).__name__, "message": str(e)[:3000]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
