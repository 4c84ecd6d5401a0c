#!/usr/bin/env python3
"""End-to-end check of an arouter gateway through the official OpenRouter Python SDK.

Only depends on the `openrouter` PyPI package (see requirements.txt for the pinned version).

Environment:
  AROUTER_BASE_URL   gateway base URL including /api/v1, e.g. http://127.0.0.1:8080/api/v1
  AROUTER_API_KEY    an inference key (lr_live_...)
  AROUTER_MGMT_KEY   a management key (lr_mgmt_...)
Optional:
  AROUTER_TIMEOUT_MS     per-request timeout in ms (default 120000)
  AROUTER_CHAT_MODEL     default openai/gpt-5.4
  AROUTER_EMBED_MODEL    default openai/text-embedding-3-small
  AROUTER_CHECK_MODELS=1 also call GET /models through the SDK (off by default)

Every call goes through the SDK, so each response must validate against the SDK's
pydantic models; a schema mismatch surfaces as errors.ResponseValidationError and the
failure message shows the pydantic errors. Prints OK and exits 0 when everything passes,
otherwise prints the failing step and exits 1 (2 for a bad environment).
"""

import os
import sys
import time
import traceback
import uuid

try:
    import openrouter
    from openrouter import OpenRouter, components, errors, operations
    from openrouter.utils import BackoffStrategy, RetryConfig
    from openrouter.utils.eventstreaming import EventStream
except ImportError as exc:  # pragma: no cover
    print(f"FAIL: cannot import the openrouter SDK ({exc}); pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)


CHAT_MODEL = os.environ.get("AROUTER_CHAT_MODEL", "openai/gpt-5.4")
EMBED_MODEL = os.environ.get("AROUTER_EMBED_MODEL", "openai/text-embedding-3-small")
MESSAGES = [{"role": "user", "content": "Hello!"}]

# The SDK's default is exponential backoff on every 5XX and on connection errors for up to
# one hour. A test must fail fast instead, so retries are switched off for every client.
NO_RETRIES = RetryConfig("none", BackoffStrategy(500, 1000, 1.5, 1000), False)


class CheckFailed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def env(name):
    value = os.environ.get(name, "").strip()
    if not value:
        print(f"FAIL: environment variable {name} is not set", file=sys.stderr)
        sys.exit(2)
    return value


def client(base_url, key, timeout_ms):
    # server_url is used verbatim (one trailing "/" stripped) and operation paths such as
    # "/chat/completions" are appended, so it must already end in /api/v1.
    return OpenRouter(api_key=key, server_url=base_url, retry_config=NO_RETRIES, timeout_ms=timeout_ms)


def describe(exc):
    """A readable account of an exception, with the HTTP details the SDK keeps."""
    lines = [f"{type(exc).__module__}.{type(exc).__name__}: {exc}"]
    if isinstance(exc, errors.OpenRouterError):
        lines.append(f"  HTTP status: {exc.status_code}")
        ctype = exc.headers.get("content-type") if exc.headers is not None else None
        lines.append(f"  content-type: {ctype}")
        body = exc.body if isinstance(exc.body, str) else repr(exc.body)
        if len(body) > 4000:
            body = body[:4000] + "...(truncated)"
        lines.append(f"  body: {body}")
        if isinstance(exc, errors.ResponseValidationError):
            lines.append("  (the response did not match the SDK's pydantic model; see the validation errors above)")
    elif type(exc).__module__.startswith("httpx"):
        lines.append("  (transport error: is the gateway running at AROUTER_BASE_URL?)")
    elif not isinstance(exc, CheckFailed):
        lines.append(traceback.format_exc())
    return "\n".join(lines)


def message_text(content):
    """ChatAssistantMessage.content is Union[str, List[ChatContentItems]] or None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    for item in content:
        text = getattr(item, "text", None)
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


def check_key_object(data, what):
    """Checks on the key object shared by create/list/get/update (SDK already enforced types)."""
    check(isinstance(data.hash, str) and data.hash, f"{what}: empty hash")
    check(isinstance(data.name, str), f"{what}: name is not a string")
    check(isinstance(data.label, str), f"{what}: label is not a string")
    check(isinstance(data.workspace_id, str), f"{what}: workspace_id is not a string")
    check(isinstance(data.disabled, bool), f"{what}: disabled is not a bool")


def main():
    base_url = env("AROUTER_BASE_URL")
    api_key = env("AROUTER_API_KEY")
    mgmt_key = env("AROUTER_MGMT_KEY")
    timeout_ms = int(os.environ.get("AROUTER_TIMEOUT_MS", "120000"))

    print(f"openrouter SDK {getattr(openrouter, 'VERSION', '?')} against {base_url}")

    mgmt = client(base_url, mgmt_key, timeout_ms)
    api = client(base_url, api_key, timeout_ms)

    state = {"hash": None, "deleted": False}
    suffix = uuid.uuid4().hex[:8]
    name = f"sdk-check-{suffix}"
    new_name = f"sdk-check-{suffix}-renamed"

    def create_key():
        res = mgmt.api_keys.create(name=name, limit=150, limit_reset="monthly")
        check(isinstance(res, operations.CreateKeysResponse), f"unexpected type {type(res)}")
        state["hash"] = res.data.hash
        check_key_object(res.data, "create")
        check(isinstance(res.key, str) and res.key, "create: empty plaintext key")
        if not res.key.startswith("lr_live_"):
            print(f"  warning: created key does not start with lr_live_: {res.key[:12]}...")
        check(res.data.name == name, f"create: name {res.data.name!r} != {name!r}")
        check(res.data.limit == 150, f"create: limit {res.data.limit!r} != 150")
        check(res.data.limit_reset == "monthly", f"create: limit_reset {res.data.limit_reset!r} != 'monthly'")
        check(res.data.disabled is False, "create: new key is disabled")
        state["plaintext"] = res.key
        return f"hash={res.data.hash}"

    def list_keys():
        res = mgmt.api_keys.list()
        check(isinstance(res, operations.ListResponse), f"unexpected type {type(res)}")
        for item in res.data:
            check_key_object(item, "list")
        hashes = [k.hash for k in res.data]
        check(state["hash"] in hashes, f"list: created key {state['hash']} not among {len(hashes)} keys")
        return f"{len(hashes)} keys"

    def get_key():
        res = mgmt.api_keys.get(hash=state["hash"])
        check(isinstance(res, operations.GetKeyResponse), f"unexpected type {type(res)}")
        check_key_object(res.data, "get")
        check(res.data.hash == state["hash"], f"get: hash {res.data.hash!r} != {state['hash']!r}")
        check(res.data.name == name, f"get: name {res.data.name!r} != {name!r}")
        check(res.data.limit == 150, f"get: limit {res.data.limit!r} != 150")
        return "ok"

    def update_key():
        res = mgmt.api_keys.update(hash=state["hash"], name=new_name, disabled=False)
        check(isinstance(res, operations.UpdateKeysResponse), f"unexpected type {type(res)}")
        check_key_object(res.data, "update")
        check(res.data.name == new_name, f"update: name {res.data.name!r} != {new_name!r}")
        check(res.data.disabled is False, "update: key is disabled")
        again = mgmt.api_keys.get(hash=state["hash"])
        check(again.data.name == new_name, f"get after update: name {again.data.name!r} != {new_name!r}")
        return "ok"

    def current_key():
        res = api.api_keys.get_current_key_metadata()
        check(isinstance(res, operations.GetCurrentKeyResponse), f"unexpected type {type(res)}")
        d = res.data
        check(isinstance(d.label, str), "current key: label is not a string")
        check(d.is_management_key is False, "current key: lr_live_ key reported as management key")
        return f"label={d.label!r} limit={d.limit!r} usage={d.usage!r}"

    def created_key_works():
        # The freshly created key should authenticate and report its own limit.
        own = client(base_url, state["plaintext"], timeout_ms)
        res = own.api_keys.get_current_key_metadata()
        check(res.data.limit == 150, f"created key /key: limit {res.data.limit!r} != 150")
        check(res.data.limit_reset == "monthly", f"created key /key: limit_reset {res.data.limit_reset!r}")
        return "ok"

    def chat_nonstream():
        res = api.chat.send(model=CHAT_MODEL, messages=MESSAGES, stream=False)
        check(isinstance(res, components.ChatResult), f"expected ChatResult (application/json), got {type(res)}")
        check(res.id.startswith("gen-"), f"id {res.id!r} does not start with 'gen-'")
        check(res.model == CHAT_MODEL, f"model {res.model!r} != {CHAT_MODEL!r}")
        check(res.object == "chat.completion", f"object {res.object!r}")
        check(len(res.choices) >= 1, "no choices")
        text = message_text(res.choices[0].message.content)
        check(text.strip() != "", "empty assistant content")
        check(res.usage is not None, "usage missing")
        check(res.usage.total_tokens > 0, f"usage.total_tokens {res.usage.total_tokens}")
        state["chat"] = res
        return f"id={res.id} finish={res.choices[0].finish_reason} tokens={res.usage.total_tokens} text={text[:40]!r}"

    def chat_stream():
        stream = api.chat.send(model=CHAT_MODEL, messages=MESSAGES, stream=True)
        check(isinstance(stream, EventStream), f"expected an EventStream (text/event-stream), got {type(stream)}")
        pieces, chunks, ids, finish, usage = [], 0, set(), None, None
        started = time.monotonic()
        with stream:
            for chunk in stream:  # ends at `data: [DONE]` (or EOF); each event must parse as ChatStreamChunk
                chunks += 1
                check(isinstance(chunk, components.ChatStreamChunk), f"chunk type {type(chunk)}")
                check(chunk.error is None, f"error chunk in stream: {chunk.error!r}")
                ids.add(chunk.id)
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
                    if choice.finish_reason is not None:
                        finish = choice.finish_reason
                if chunk.usage is not None:
                    usage = chunk.usage
                check(time.monotonic() - started < timeout_ms / 1000 * 2, "stream did not end in time")
        text = "".join(pieces)
        check(chunks > 0, "stream produced no chunks")
        check(text.strip() != "", "streamed text is empty")
        check(finish is not None, "no chunk carried a finish_reason")
        check(all(i.startswith("gen-") for i in ids), f"chunk ids do not start with 'gen-': {ids}")
        if len(ids) != 1:
            print(f"  warning: stream used {len(ids)} different ids: {ids}")
        if usage is None:
            print("  warning: no usage in any stream chunk")
        return f"{chunks} chunks finish={finish} text={text[:40]!r}"

    def embeddings():
        res = api.embeddings.generate(model=EMBED_MODEL, input="hello")
        check(isinstance(res, operations.CreateEmbeddingsResponseBody),
              f"expected CreateEmbeddingsResponseBody (application/json), got {type(res)}")
        check(len(res.data) == 1, f"expected 1 embedding, got {len(res.data)}")
        vec = res.data[0].embedding
        check(isinstance(vec, list) and len(vec) > 0, f"embedding is not a non-empty float list: {type(vec)}")
        check(all(isinstance(x, float) for x in vec), "embedding has non-float entries")
        return f"dim={len(vec)} model={res.model}"

    def generation():
        # The gateway waits briefly for the batched ledger, so no polling is needed here.
        chat = state["chat"]
        res = api.generations.get_generation(id=chat.id)
        check(isinstance(res, components.GenerationResponse), f"unexpected type {type(res)}")
        d = res.data
        check(d.id == chat.id, f"generation: id {d.id!r} != {chat.id!r}")
        check(d.model == chat.model, f"generation: model {d.model!r} != {chat.model!r}")
        check(d.tokens_prompt == chat.usage.prompt_tokens, f"generation: tokens_prompt {d.tokens_prompt!r}")
        check(d.tokens_completion == chat.usage.completion_tokens,
              f"generation: tokens_completion {d.tokens_completion!r}")
        if chat.usage.cost is not None:
            check(abs(d.total_cost - chat.usage.cost) < 1e-12, f"generation: total_cost {d.total_cost!r}")
        check(d.streamed is False, f"generation: streamed {d.streamed!r}")
        return f"provider={d.provider_name} cost={d.total_cost} latency={d.latency}"

    def providers():
        res = api.providers.list()
        check(isinstance(res, operations.ListProvidersResponse), f"unexpected type {type(res)}")
        slugs = [p.slug for p in res.data]
        check(len(slugs) > 0, "no providers")
        return f"{slugs}"

    def invalid_key():
        bad = client(base_url, "lr_live_invalid" + uuid.uuid4().hex, timeout_ms)
        try:
            bad.chat.send(model=CHAT_MODEL, messages=MESSAGES)
        except errors.UnauthorizedResponseError as exc:
            check(exc.status_code == 401, f"status {exc.status_code}")
            check(exc.data.error.code == 401, f"error.code {exc.data.error.code!r} != 401")
            check(exc.data.error.message != "", "empty error.message")
            return f"UnauthorizedResponseError: {exc.data.error.message!r}"
        raise CheckFailed("chat with an invalid key did not raise errors.UnauthorizedResponseError")

    def models():
        res = api.models.list()
        check(isinstance(res.result, components.ModelsListResponse), f"unexpected type {type(res.result)}")
        ids = [m.id for m in res.result.data]
        check(len(ids) > 0, "no models")
        return f"{len(ids)} models"

    def delete_key():
        res = mgmt.api_keys.delete(hash=state["hash"])
        check(isinstance(res, operations.DeleteKeysResponse), f"unexpected type {type(res)}")
        check(res.DELETED is True, "delete: deleted is not true")
        state["deleted"] = True
        try:
            mgmt.api_keys.get(hash=state["hash"])
        except errors.NotFoundResponseError:
            return "ok (get afterwards: 404)"
        raise CheckFailed("get of a deleted key did not raise errors.NotFoundResponseError")

    steps = [
        ("create key (mgmt)", create_key),
        ("list keys (mgmt)", list_keys),
        ("get key (mgmt)", get_key),
        ("update key (mgmt)", update_key),
        ("current key GET /key (api key)", current_key),
        ("current key GET /key (created key)", created_key_works),
        ("chat completion, non-stream", chat_nonstream),
        ("generation lookup", generation),
        ("providers", providers),
        ("chat completion, stream", chat_stream),
        ("embeddings", embeddings),
        ("chat with invalid key -> 401", invalid_key),
    ]
    if os.environ.get("AROUTER_CHECK_MODELS") == "1":
        steps.append(("list models", models))
    steps.append(("delete key (mgmt)", delete_key))

    failed = None
    try:
        for label, fn in steps:
            try:
                detail = fn()
            except Exception as exc:  # noqa: BLE001 - report and stop
                failed = f"step '{label}' failed:\n{describe(exc)}"
                break
            print(f"  pass  {label}: {detail}")
    finally:
        if state["hash"] and not state["deleted"]:
            try:
                mgmt.api_keys.delete(hash=state["hash"])
                print(f"  (cleanup: deleted key {state['hash']})")
            except Exception as exc:  # noqa: BLE001
                print(f"  (cleanup: could not delete key {state['hash']}: {exc})", file=sys.stderr)

    if failed:
        sys.stdout.flush()
        print(f"FAIL: {failed}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
