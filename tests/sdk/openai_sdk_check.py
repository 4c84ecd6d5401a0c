#!/usr/bin/env python3
"""End-to-end check of an arouter gateway through the official OpenAI Python SDK.

Only depends on the `openai` PyPI package (see requirements.txt for the pinned version). The
gateway must run with the mock upstreams (`arouter serve --mock-upstreams`): the answers'
text is checked word for word against what the mocks say.

Environment:
  AROUTER_BASE       gateway base URL without a path, e.g. http://127.0.0.1:8080
  AROUTER_API_KEY    an inference key (lr_live_...) allowed to use openai and anthropic
Optional:
  AROUTER_TIMEOUT_S  per-request timeout in seconds (default 60)

Every call goes through the SDK (`OpenAI(base_url=AROUTER_BASE + "/v1")`), so each response
must parse into the SDK's models. Prints OK and exits 0 when everything passes, otherwise
prints the failing step and exits 1 (2 for a bad environment).
"""

import json
import math
import os
import sys
import traceback
import uuid

# The SDK reads OPENAI_* variables (organization, project, base URL, ...); the check must
# depend only on what it is given.
for _name in [n for n in os.environ if n.startswith("OPENAI_")]:
    del os.environ[_name]

try:
    import openai
    from openai import OpenAI
except ImportError as exc:  # pragma: no cover
    print(f"FAIL: cannot import the openai SDK ({exc}); pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)


CHAT_MODEL = "openai/gpt-5.4"
CLAUDE_MODEL = "anthropic/claude-sonnet-4.6"
EMBED_MODEL = "openai/text-embedding-3-small"
PROMPT = "Hello from the OpenAI SDK!"
# What the mock upstreams answer (src/mock/openai.rs, src/mock/anthropic.rs).
OPENAI_ANSWER = "Hello! This is the arouter mock upstream. You said:"
ANTHROPIC_ANSWER = "Hello! This is the arouter mock Anthropic upstream. You said:"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The city."}},
            "required": ["input"],
        },
    },
}


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


def describe(exc):
    """A readable account of an exception, with the HTTP details the SDK keeps."""
    lines = [f"{type(exc).__module__}.{type(exc).__name__}: {exc}"]
    if isinstance(exc, openai.APIStatusError):
        lines.append(f"  HTTP status: {exc.status_code}")
        lines.append(f"  content-type: {exc.response.headers.get('content-type')}")
        body = exc.response.text
        if len(body) > 4000:
            body = body[:4000] + "...(truncated)"
        lines.append(f"  body: {body}")
    elif isinstance(exc, openai.APIResponseValidationError):
        lines.append(f"  body: {exc.body!r}")
        lines.append("  (the response did not match the SDK's model)")
    elif isinstance(exc, openai.APIConnectionError):
        lines.append("  (transport error: is the gateway running at AROUTER_BASE?)")
    elif not isinstance(exc, CheckFailed):
        lines.append(traceback.format_exc())
    return "\n".join(lines)


def extra(model, name):
    """A field the SDK's model does not declare (e.g. usage.cost), or None."""
    return (getattr(model, "model_extra", None) or {}).get(name)


def main():
    base = env("AROUTER_BASE").rstrip("/")
    api_key = env("AROUTER_API_KEY")
    timeout = float(os.environ.get("AROUTER_TIMEOUT_S", "60"))
    base_url = base + "/v1"

    print(f"openai SDK {openai.__version__} against {base_url}")

    def client(key):
        # Retries off: the SDK retries 408/409/429/5xx and connection errors twice by default.
        return OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=timeout)

    api = client(api_key)
    messages = [{"role": "user", "content": PROMPT}]

    def chat_nonstream(model, answer):
        def step():
            res = api.chat.completions.create(model=model, messages=messages)
            check(res.id.startswith("gen-"), f"id {res.id!r} does not start with 'gen-'")
            check(res.model == model, f"model {res.model!r} != {model!r}")
            check(res.object == "chat.completion", f"object {res.object!r}")
            check(len(res.choices) == 1, f"{len(res.choices)} choices")
            choice = res.choices[0]
            expected = f"{answer} {PROMPT}"
            check(choice.message.role == "assistant", f"role {choice.message.role!r}")
            check(choice.message.content == expected, f"content {choice.message.content!r} != {expected!r}")
            check(not choice.message.tool_calls, f"unexpected tool_calls {choice.message.tool_calls!r}")
            check(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason!r} != 'stop'")
            usage = res.usage
            check(usage is not None, "usage missing")
            check(usage.prompt_tokens > 0, f"usage.prompt_tokens {usage.prompt_tokens}")
            check(usage.completion_tokens > 0, f"usage.completion_tokens {usage.completion_tokens}")
            check(
                usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
                f"usage.total_tokens {usage.total_tokens} != {usage.prompt_tokens} + {usage.completion_tokens}",
            )
            cost = extra(usage, "cost")
            check(isinstance(cost, (int, float)) and cost >= 0, f"usage.cost {cost!r} is not a number >= 0")
            return f"id={res.id} tokens={usage.prompt_tokens}+{usage.completion_tokens} cost={cost}"

        return step

    def chat_stream(model, answer):
        def step():
            stream = api.chat.completions.create(
                model=model, messages=messages, stream=True, stream_options={"include_usage": True}
            )
            chunks = list(stream)  # the SDK stops at `data: [DONE]`; every chunk must parse
            check(chunks, "stream produced no chunks")
            pieces, ids, finish = [], set(), None
            for chunk in chunks:
                check(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object!r}")
                check(chunk.model == model, f"chunk model {chunk.model!r} != {model!r}")
                ids.add(chunk.id)
                for choice in chunk.choices:
                    if choice.delta.content:
                        pieces.append(choice.delta.content)
                    if choice.finish_reason is not None:
                        check(finish is None, "two chunks carry a finish_reason")
                        finish = choice.finish_reason
            text = "".join(pieces)
            expected = f"{answer} {PROMPT}"
            check(text == expected, f"streamed text {text!r} != {expected!r}")
            check(finish == "stop", f"finish_reason {finish!r} != 'stop'")
            check(len(ids) == 1 and next(iter(ids)).startswith("gen-"), f"chunk ids {ids} are not one gen- id")
            last = chunks[-1]
            check(last.choices == [], f"last chunk has choices {last.choices!r} (expected the usage chunk)")
            check(last.usage is not None, "include_usage: the last chunk has no usage")
            check(last.usage.prompt_tokens > 0, f"stream usage.prompt_tokens {last.usage.prompt_tokens}")
            check(last.usage.completion_tokens > 0, f"stream usage.completion_tokens {last.usage.completion_tokens}")
            check(all(c.usage is None for c in chunks[:-1]), "usage on a chunk before the last")
            return f"{len(chunks)} chunks, tokens={last.usage.prompt_tokens}+{last.usage.completion_tokens}"

        return step

    def tool_round_trip(model, answer):
        def step():
            question = "What is the weather in Paris?"
            convo = [{"role": "user", "content": question}]
            first = api.chat.completions.create(
                model=model, messages=convo, tools=[WEATHER_TOOL], tool_choice="required"
            )
            choice = first.choices[0]
            check(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r} != 'tool_calls'")
            calls = choice.message.tool_calls or []
            check(len(calls) == 1, f"expected 1 tool call, got {calls!r}")
            call = calls[0]
            check(call.type == "function", f"tool call type {call.type!r}")
            check(call.id, "tool call without an id")
            check(call.function.name == "get_weather", f"tool name {call.function.name!r}")
            try:
                arguments = json.loads(call.function.arguments)
            except ValueError as exc:
                raise CheckFailed(f"tool arguments are not JSON: {call.function.arguments!r} ({exc})") from exc
            check(arguments == {"input": question}, f"tool arguments {arguments!r}")

            convo.append(
                {
                    "role": "assistant",
                    "content": choice.message.content,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.function.name, "arguments": call.function.arguments},
                        }
                    ],
                }
            )
            convo.append({"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees."})
            second = api.chat.completions.create(model=model, messages=convo, tools=[WEATHER_TOOL])
            choice = second.choices[0]
            # The mocks echo the last user text: the question (OpenAI) or none, as the last user
            # turn holds only the tool result (Anthropic).
            check(not choice.message.tool_calls, f"second turn called a tool again: {choice.message.tool_calls!r}")
            content = choice.message.content or ""
            check(content.startswith(answer), f"content {content!r} does not start with {answer!r}")
            check(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason!r} != 'stop'")
            return f"call {call.id} {call.function.name}({call.function.arguments}) -> {content!r}"

        return step

    def embeddings_default():
        # Without encoding_format the SDK asks for base64 and decodes the float32 bytes itself.
        raw = api.embeddings.with_raw_response.create(model=EMBED_MODEL, input="hello")
        sent = json.loads(raw.http_request.content)
        check(sent.get("encoding_format") == "base64", f"the SDK did not ask for base64: {sent!r}")
        wire = raw.http_response.json()["data"][0]["embedding"]
        check(isinstance(wire, str), f"the gateway answered {type(wire).__name__}, not a base64 string: {wire!r}")
        res = raw.parse()
        check(res.object == "list", f"object {res.object!r}")
        check(res.model == EMBED_MODEL, f"model {res.model!r} != {EMBED_MODEL!r}")
        check(len(res.data) == 1, f"expected 1 embedding, got {len(res.data)}")
        vec = res.data[0].embedding
        check(isinstance(vec, list) and len(vec) > 0, f"embedding is not a non-empty list: {type(vec)} {vec!r}")
        check(all(isinstance(x, float) for x in vec), f"embedding has non-float entries: {vec!r}")
        check(all(math.isfinite(x) for x in vec), f"embedding has non-finite entries: {vec!r}")
        check(res.usage.prompt_tokens > 0, f"usage.prompt_tokens {res.usage.prompt_tokens}")
        state["base64_vector"] = vec
        return f"dim={len(vec)} model={res.model} (base64 on the wire)"

    def embeddings_float():
        res = api.embeddings.create(model=EMBED_MODEL, input="hello", encoding_format="float")
        check(len(res.data) == 1, f"expected 1 embedding, got {len(res.data)}")
        vec = res.data[0].embedding
        check(isinstance(vec, list) and len(vec) > 0, f"embedding is not a non-empty list: {type(vec)}")
        check(all(isinstance(x, float) for x in vec), f"embedding has non-float entries: {vec!r}")
        other = state.get("base64_vector")
        if other is not None:
            check(len(other) == len(vec), f"base64 vector has {len(other)} dims, float vector {len(vec)}")
            worst = max(abs(a - b) for a, b in zip(vec, other))
            check(worst < 1e-6, f"base64 and float vectors differ by {worst}")
        return f"dim={len(vec)} (same vector as the base64 one)"

    def models():
        page = api.models.list()
        ids = [m.id for m in page]
        check(CHAT_MODEL in ids, f"{CHAT_MODEL} not among the {len(ids)} models: {ids[:20]}")
        return f"{len(ids)} models"

    def invalid_key():
        bad = client("lr_live_invalid" + uuid.uuid4().hex)
        try:
            bad.chat.completions.create(model=CHAT_MODEL, messages=messages)
        except openai.AuthenticationError as exc:
            check(exc.status_code == 401, f"status {exc.status_code}")
            return f"AuthenticationError: {exc.message!r}"
        raise CheckFailed("chat with an invalid key did not raise openai.AuthenticationError")

    def bad_request():
        try:
            api.chat.completions.create(model=CHAT_MODEL, messages=[])
        except openai.BadRequestError as exc:
            check(exc.status_code == 400, f"status {exc.status_code}")
            return f"BadRequestError: {exc.message!r}"
        raise CheckFailed("chat with empty messages did not raise openai.BadRequestError")

    state = {}
    steps = [
        (f"chat, non-stream ({CHAT_MODEL})", chat_nonstream(CHAT_MODEL, OPENAI_ANSWER)),
        (f"chat, stream with include_usage ({CHAT_MODEL})", chat_stream(CHAT_MODEL, OPENAI_ANSWER)),
        (f"tool call round trip ({CHAT_MODEL})", tool_round_trip(CHAT_MODEL, OPENAI_ANSWER)),
        ("embeddings, SDK default (base64)", embeddings_default),
        ("embeddings, encoding_format=float", embeddings_float),
        ("models.list()", models),
        (f"chat, non-stream ({CLAUDE_MODEL})", chat_nonstream(CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"chat, stream with include_usage ({CLAUDE_MODEL})", chat_stream(CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"tool call round trip ({CLAUDE_MODEL})", tool_round_trip(CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        ("invalid key -> AuthenticationError", invalid_key),
        ("empty messages -> BadRequestError", bad_request),
    ]

    failures = []
    for label, fn in steps:
        try:
            detail = fn()
        except Exception as exc:  # noqa: BLE001 - report, go on with the next step
            failures.append(f"step '{label}' failed:\n{describe(exc)}")
            print(f"  FAIL  {label}")
            continue
        print(f"  pass  {label}: {detail}")

    if failures:
        sys.stdout.flush()
        for failure in failures:
            print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
