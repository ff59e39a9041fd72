"""The baseline the benchmark compares against: a fresh Python app making its first keyless
call to Azure OpenAI, exactly as a user's app would (import, DefaultAzureCredential, one chat
completion with max_tokens=1). Run by scripts/bench against the lab, inside the sandbox."""
import os
import sys

from azure.identity import DefaultAzureCredential, get_bearer_token_provider
from openai import AzureOpenAI

credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
client = AzureOpenAI(
    azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
    api_version=os.environ.get("OPENAI_API_VERSION", "2024-10-21"),
    azure_ad_token_provider=get_bearer_token_provider(credential, "https://cognitiveservices.azure.com/.default"),
    max_retries=0,
)
reply = client.chat.completions.create(
    model=os.environ["AZURE_OPENAI_DEPLOYMENT"],
    messages=[{"role": "user", "content": "ping"}],
    max_tokens=1,
)
sys.exit(0 if reply.choices else 1)
