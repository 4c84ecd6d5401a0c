#!/usr/bin/env python3
"""End-to-end check of an arouter gateway through the official Anthropic Python SDK.

Only depends on the `anthropic` PyPI package (see requirements.txt for the pinned version).
The gateway must run with the mock upstreams (`arouter serve --mock-upstreams`): the answers'
text is checked word for word against what the mocks say.

Environment:
  AROUTER_BASE       gateway base URL without a path, e.g. http://127.0.0.1:8080
  AROUTER_API_KEY    an inference key (lr_live_...) allowed to use anthropic and openai
Optional:
  AROUTER_TIMEOUT_S  per-request timeout in seconds (default 60)

Every call goes through the SDK (`Anthropic(base_url=AROUTER_BASE)`, which appends
/v1/messages itself), so each response must parse into the SDK's models. The SDK sends the key
as `Authorization: Bearer` (recent versions) and its own `anthropic-version`; one step sends
it as `x-api-key` instead, as older SDKs and the Anthropic docs' curl do. Prints OK and exits 0
when everything passes, otherwise prints the failing steps and exits 1 (2 for a bad
environment).
"""

import os
import sys
import traceback
import uuid

# The SDK reads ANTHROPIC_* variables (key, auth token, base URL, profile, custom headers);
# the check must depend only on what it is given.
for _name in [n for n in os.environ if n.startswith("ANTHROPIC_")]:
    del os.environ[_name]

try:
    import anthropic
    from anthropic import Anthropic
except ImportError as exc:  # pragma: no cover
    print(f"FAIL: cannot import the anthropic SDK ({exc}); pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)


CLAUDE_MODEL = "claude-sonnet-4.6"
OPENAI_MODEL = "openai/gpt-5.4"
MAX_TOKENS = 256
PROMPT = "Hello from the Anthropic SDK!"
# What the mock upstreams answer (src/mock/anthropic.rs, src/mock/openai.rs).
ANTHROPIC_ANSWER = "Hello! This is the arouter mock Anthropic upstream. You said:"
OPENAI_ANSWER = "Hello! This is the arouter mock upstream. You said:"

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The city."}},
        "required": ["input"],
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
    if isinstance(exc, anthropic.APIStatusError):
        lines.append(f"  HTTP status: {exc.status_code}")
        lines.append(f"  content-type: {exc.response.headers.get('content-type')}")
        body = exc.response.text
        if len(body) > 4000:
            body = body[:4000] + "...(truncated)"
        lines.append(f"  body: {body}")
    elif isinstance(exc, anthropic.APIResponseValidationError):
        lines.append(f"  body: {exc.body!r}")
        lines.append("  (the response did not match the SDK's model)")
    elif isinstance(exc, anthropic.APIConnectionError):
        lines.append("  (transport error: is the gateway running at AROUTER_BASE?)")
    elif not isinstance(exc, CheckFailed):
        lines.append(traceback.format_exc())
    return "\n".join(lines)


def texts(message):
    return [block.text for block in message.content if block.type == "text"]


def check_answer(message, expected, what):
    check(message.type == "message", f"{what}: type {message.type!r}")
    check(message.role == "assistant", f"{what}: role {message.role!r}")
    check(isinstance(message.id, str) and message.id, f"{what}: empty id")
    kinds = [block.type for block in message.content]
    check(kinds == ["text"], f"{what}: content blocks {kinds} != ['text']")
    check(message.content[0].text == expected, f"{what}: text {message.content[0].text!r} != {expected!r}")
    check(message.stop_reason == "end_turn", f"{what}: stop_reason {message.stop_reason!r} != 'end_turn'")
    check(message.usage.input_tokens > 0, f"{what}: usage.input_tokens {message.usage.input_tokens}")
    check(message.usage.output_tokens > 0, f"{what}: usage.output_tokens {message.usage.output_tokens}")


def main():
    base = env("AROUTER_BASE").rstrip("/")
    api_key = env("AROUTER_API_KEY")
    timeout = float(os.environ.get("AROUTER_TIMEOUT_S", "60"))

    print(f"anthropic SDK {anthropic.__version__} against {base}")

    def client(key):
        # Retries off: the SDK retries 408/409/429/5xx and connection errors twice by default.
        return Anthropic(base_url=base, api_key=key, max_retries=0, timeout=timeout)

    api = client(api_key)
    messages = [{"role": "user", "content": PROMPT}]

    def create(model, answer):
        def step():
            res = api.messages.create(model=model, max_tokens=MAX_TOKENS, messages=messages)
            check_answer(res, f"{answer} {PROMPT}", "messages.create")
            usage = res.usage
            return f"id={res.id} model={res.model} tokens={usage.input_tokens}+{usage.output_tokens}"

        return step

    def stream(model, answer):
        def step():
            expected = f"{answer} {PROMPT}"
            with api.messages.stream(model=model, max_tokens=MAX_TOKENS, messages=messages) as s:
                pieces = list(s.text_stream)
                final = s.get_final_message()
            text = "".join(pieces)
            check(len(pieces) > 1, f"text_stream gave {len(pieces)} pieces; expected one per word")
            check(text == expected, f"text_stream {text!r} != {expected!r}")
            check_answer(final, expected, "get_final_message()")
            usage = final.usage
            return f"{len(pieces)} text deltas, tokens={usage.input_tokens}+{usage.output_tokens}"

        return step

    def tool_round_trip(model, answer):
        def step():
            question = "What is the weather in Paris?"
            convo = [{"role": "user", "content": question}]
            first = api.messages.create(
                model=model,
                max_tokens=MAX_TOKENS,
                messages=convo,
                tools=[WEATHER_TOOL],
                tool_choice={"type": "any"},
            )
            check(first.stop_reason == "tool_use", f"stop_reason {first.stop_reason!r} != 'tool_use'")
            uses = [block for block in first.content if block.type == "tool_use"]
            check(len(uses) == 1, f"expected 1 tool_use block, got {[b.type for b in first.content]}")
            use = uses[0]
            check(use.id, "tool_use without an id")
            check(use.name == "get_weather", f"tool name {use.name!r}")
            check(use.input == {"input": question}, f"tool input {use.input!r}")

            # As the Anthropic docs do it: the assistant turn is the response's content as is.
            convo.append({"role": "assistant", "content": first.content})
            convo.append(
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 degrees."}],
                }
            )
            second = api.messages.create(model=model, max_tokens=MAX_TOKENS, messages=convo, tools=[WEATHER_TOOL])
            # The mocks echo the last user text: none, as the last user turn holds only the tool
            # result (Anthropic), or the question (OpenAI, where the tool result is a tool message).
            kinds = [block.type for block in second.content]
            check(kinds == ["text"], f"second turn: content blocks {kinds} != ['text']")
            text = second.content[0].text
            check(text.startswith(answer), f"second turn: text {text!r} does not start with {answer!r}")
            check(second.stop_reason == "end_turn", f"second turn: stop_reason {second.stop_reason!r}")
            return f"tool_use {use.id} {use.name}({use.input}) -> {text!r}"

        return step

    def count_tokens(model):
        def step():
            res = api.messages.count_tokens(model=model, messages=messages)
            check(res.input_tokens > 0, f"input_tokens {res.input_tokens}")
            return f"input_tokens={res.input_tokens}"

        return step

    def x_api_key():
        # The key in x-api-key, no Authorization header.
        bogus = client("lr_live_invalid" + uuid.uuid4().hex)
        raw = bogus.messages.with_raw_response.create(
            model=CLAUDE_MODEL,
            max_tokens=MAX_TOKENS,
            messages=messages,
            extra_headers={"x-api-key": api_key, "Authorization": anthropic.omit},
        )
        sent = raw.http_request.headers
        check("authorization" not in sent, "the SDK still sent an Authorization header")
        check(sent.get("x-api-key") == api_key, "the SDK did not send x-api-key")
        res = raw.parse()
        check(texts(res) == [f"{ANTHROPIC_ANSWER} {PROMPT}"], f"text {texts(res)!r}")
        return f"ok (anthropic-version: {sent.get('anthropic-version')})"

    def invalid_key():
        bad = client("lr_live_invalid" + uuid.uuid4().hex)
        try:
            bad.messages.create(model=CLAUDE_MODEL, max_tokens=MAX_TOKENS, messages=messages)
        except anthropic.AuthenticationError as exc:
            check(exc.status_code == 401, f"status {exc.status_code}")
            return f"AuthenticationError: {exc.message!r}"
        raise CheckFailed("messages.create with an invalid key did not raise anthropic.AuthenticationError")

    def bad_request(what, **kwargs):
        def step():
            try:
                api.messages.create(model=CLAUDE_MODEL, max_tokens=MAX_TOKENS, **kwargs)
            except anthropic.BadRequestError as exc:
                check(exc.status_code == 400, f"status {exc.status_code}")
                return f"BadRequestError: {exc.message!r}"
            raise CheckFailed(f"messages.create with {what} did not raise anthropic.BadRequestError")

        return step

    steps = [
        (f"messages.create ({CLAUDE_MODEL})", create(CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"messages.stream ({CLAUDE_MODEL})", stream(CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"tool_use round trip ({CLAUDE_MODEL})", tool_round_trip(CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"messages.count_tokens ({CLAUDE_MODEL})", count_tokens(CLAUDE_MODEL)),
        (f"messages.create ({OPENAI_MODEL})", create(OPENAI_MODEL, OPENAI_ANSWER)),
        (f"messages.stream ({OPENAI_MODEL})", stream(OPENAI_MODEL, OPENAI_ANSWER)),
        (f"tool_use round trip ({OPENAI_MODEL})", tool_round_trip(OPENAI_MODEL, OPENAI_ANSWER)),
        (f"messages.count_tokens ({OPENAI_MODEL})", count_tokens(OPENAI_MODEL)),
        ("key in x-api-key", x_api_key),
        ("invalid key -> AuthenticationError", invalid_key),
        ("no messages -> BadRequestError", bad_request("no messages", messages=anthropic.omit)),
        ("empty messages -> BadRequestError", bad_request("empty messages", messages=[])),
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
