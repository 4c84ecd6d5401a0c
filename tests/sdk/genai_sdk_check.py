#!/usr/bin/env python3
"""End-to-end check of an arouter gateway through Google's official google-genai Python SDK.

Only depends on the `google-genai` PyPI package (see requirements.txt for the pinned version).
The gateway must run with the mock upstreams (`arouter serve --mock-upstreams`): the answers'
text is checked word for word against what the mocks say.

Environment:
  AROUTER_BASE       gateway base URL without a path, e.g. http://127.0.0.1:8080
  AROUTER_API_KEY    an inference key (lr_live_...) allowed to use google, anthropic and openai
Optional:
  AROUTER_TIMEOUT_S  per-request timeout in seconds (default 60)
  AROUTER_TRACE=1    print every HTTP request the SDK made (method, URL, headers; key redacted)

Every call goes through the SDK: `genai.Client(api_key=KEY, http_options=HttpOptions(
base_url=AROUTER_BASE, api_version="v1beta"))`, which builds `{base}/v1beta/models/{model}:
{method}` itself and sends the key as `x-goog-api-key`; a second client with api_version "v1"
proves the `/v1/models/{model}:{method}` paths. Models of other providers are named with their
prefix (`anthropic/claude-sonnet-4.6`), which the SDK puts in the path as is:
`/v1beta/models/anthropic/claude-sonnet-4.6:generateContent`. Each response must parse into the
SDK's types. Prints OK and exits 0 when everything passes, otherwise prints the failing steps
and exits 1 (2 for a bad environment).
"""

import os
import sys
import traceback
import uuid

# The SDK reads GOOGLE_API_KEY / GEMINI_API_KEY, GOOGLE_GENAI_* (Vertex AI switch, API version,
# HTTP client), GOOGLE_GEMINI_BASE_URL, GOOGLE_CLOUD_* and application credentials; the check must
# depend only on what it is given.
for _name in [n for n in os.environ if n.startswith(("GOOGLE_", "GEMINI_"))]:
    del os.environ[_name]

try:
    from google import genai
    from google.genai import errors, types
except ImportError as exc:  # pragma: no cover
    print(f"FAIL: cannot import the google-genai SDK ({exc}); pip install -r requirements.txt", file=sys.stderr)
    sys.exit(2)


GEMINI_MODEL = "gemini-2.5-flash"
EMBEDDING_MODEL = "gemini-embedding-001"
CLAUDE_MODEL = "anthropic/claude-sonnet-4.6"
OPENAI_MODEL = "openai/gpt-5.4"
PROMPT = "Hello!"
# What the mock upstreams answer (src/mock/gemini.rs, src/mock/anthropic.rs, src/mock/openai.rs).
GEMINI_ANSWER = "Hello! This is the arouter mock Gemini upstream. You said:"
ANTHROPIC_ANSWER = "Hello! This is the arouter mock Anthropic upstream. You said:"
OPENAI_ANSWER = "Hello! This is the arouter mock upstream. You said:"
# The mock Gemini's thought signature on function calls (base64 of this), which it requires back.
MOCK_THOUGHT_SIGNATURE = b"sig_mock_1"

WEATHER_TOOL = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            description="The current weather in a city.",
            parameters=types.Schema(
                type=types.Type.OBJECT,
                properties={"input": types.Schema(type=types.Type.STRING, description="The city.")},
                required=["input"],
            ),
        )
    ]
)


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
    if isinstance(exc, errors.APIError):
        lines.append(f"  HTTP status: {exc.code} ({exc.status})")
        response = getattr(exc, "response", None)
        if response is not None:
            request = getattr(response, "request", None)
            if request is not None:
                lines.append(f"  request: {request.method} {request.url}")
            lines.append(f"  content-type: {response.headers.get('content-type')}")
        lines.append(f"  details: {exc.details!r}"[:4000])
    elif type(exc).__module__.split(".")[0] in ("httpx", "httpx2"):
        lines.append("  (transport error: is the gateway running at AROUTER_BASE?)")
    elif not isinstance(exc, CheckFailed):
        lines.append(traceback.format_exc())
    return "\n".join(lines)


class Trace:
    """Every request the SDK sends, through httpx's event hooks (the SDK's own HTTP client)."""

    def __init__(self):
        self.requests = []

    def hook(self, request):
        self.requests.append(request)

    def since(self, mark):
        return self.requests[mark:]

    def show(self, secret):
        for request in self.requests:
            headers = {k: ("<key>" if v == secret else v) for k, v in request.headers.items()}
            print(f"    {request.method} {request.url}  {headers}")


def main():
    base = env("AROUTER_BASE").rstrip("/")
    api_key = env("AROUTER_API_KEY")
    timeout = float(os.environ.get("AROUTER_TIMEOUT_S", "60"))

    print(f"google-genai SDK {genai.__version__} against {base}")
    trace = Trace()

    def client(key, api_version="v1beta"):
        options = types.HttpOptions(
            base_url=base,
            api_version=api_version,
            timeout=int(timeout * 1000),  # milliseconds
            # One attempt: no retries on 408/429/5xx or connection errors.
            retry_options=types.HttpRetryOptions(attempts=1),
            client_args={"event_hooks": {"request": [trace.hook]}},
        )
        return genai.Client(api_key=key, http_options=options)

    api = client(api_key)
    api_v1 = client(api_key, "v1")

    def sent(mark, path, query=""):
        """The one request made since `mark` went to `path` with the key in x-goog-api-key."""
        requests = trace.since(mark)
        check(len(requests) == 1, f"expected one HTTP request, the SDK made {len(requests)}")
        request = requests[0]
        check(request.url.path == path, f"request path {request.url.path!r} != {path!r}")
        got_query = request.url.query.decode() if isinstance(request.url.query, bytes) else request.url.query
        check(got_query == query, f"request query {got_query!r} != {query!r}")
        check(request.headers.get("x-goog-api-key") == api_key, "the key was not sent in x-goog-api-key")
        check("authorization" not in request.headers, "the SDK sent an Authorization header")
        return request

    def generate(sdk, version, model, answer):
        def step():
            mark = len(trace.requests)
            res = sdk.models.generate_content(model=model, contents=PROMPT)
            sent(mark, f"/{version}/models/{model}:generateContent")
            expected = f"{answer} {PROMPT}"
            check(res.text == expected, f"text {res.text!r} != {expected!r}")
            check(len(res.candidates) == 1, f"{len(res.candidates)} candidates")
            candidate = res.candidates[0]
            check(candidate.content.role == "model", f"role {candidate.content.role!r}")
            check(candidate.finish_reason == types.FinishReason.STOP, f"finish_reason {candidate.finish_reason!r}")
            check(not res.function_calls, f"unexpected function calls {res.function_calls!r}")
            usage = res.usage_metadata
            check(usage is not None, "no usage_metadata")
            check((usage.prompt_token_count or 0) > 0, f"prompt_token_count {usage.prompt_token_count}")
            check((usage.candidates_token_count or 0) > 0, f"candidates_token_count {usage.candidates_token_count}")
            check((usage.total_token_count or 0) > 0, f"total_token_count {usage.total_token_count}")
            return (
                f"model_version={res.model_version} tokens={usage.prompt_token_count}+"
                f"{usage.candidates_token_count} total={usage.total_token_count}"
            )

        return step

    def stream(sdk, version, model, answer):
        def step():
            mark = len(trace.requests)
            chunks = list(sdk.models.generate_content_stream(model=model, contents=PROMPT))
            sent(mark, f"/{version}/models/{model}:streamGenerateContent", "alt=sse")
            expected = f"{answer} {PROMPT}"
            text = "".join(chunk.text or "" for chunk in chunks)
            check(len(chunks) > 1, f"{len(chunks)} chunks; expected one per word")
            check(text == expected, f"streamed text {text!r} != {expected!r}")
            for i, chunk in enumerate(chunks):
                check(chunk.candidates, f"chunk {i} has no candidates: {chunk!r}")
                check(not chunk.function_calls, f"chunk {i} has function calls")
            last = chunks[-1]
            check(
                last.candidates[0].finish_reason == types.FinishReason.STOP,
                f"last chunk's finish_reason {last.candidates[0].finish_reason!r}",
            )
            for i, chunk in enumerate(chunks[:-1]):
                check(chunk.candidates[0].finish_reason is None, f"chunk {i} already has a finish_reason")
            usage = last.usage_metadata
            check(usage is not None, "no usage_metadata on the last chunk")
            check((usage.prompt_token_count or 0) > 0, f"prompt_token_count {usage.prompt_token_count}")
            check((usage.candidates_token_count or 0) > 0, f"candidates_token_count {usage.candidates_token_count}")
            return f"{len(chunks)} chunks, tokens={usage.prompt_token_count}+{usage.candidates_token_count}"

        return step

    def function_call_round_trip(model, answer, signed):
        def step():
            question = "What is the weather in Paris?"
            config = types.GenerateContentConfig(
                tools=[WEATHER_TOOL],
                automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            )
            first = api.models.generate_content(model=model, contents=question, config=config)
            calls = first.function_calls or []
            check(len(calls) == 1, f"expected 1 function call, got {first.candidates!r}")
            call = calls[0]
            check(call.name == "get_weather", f"function name {call.name!r}")
            check(call.args == {"input": question}, f"function args {call.args!r}")
            content = first.candidates[0].content
            check(content.role == "model", f"role {content.role!r}")
            call_parts = [part for part in content.parts if part.function_call]
            check(len(call_parts) == 1, f"function call parts: {content.parts!r}")
            signature = call_parts[0].thought_signature
            if signed:
                check(
                    signature == MOCK_THOUGHT_SIGNATURE,
                    f"thought_signature {signature!r} != {MOCK_THOUGHT_SIGNATURE!r}",
                )

            # As Google's docs do it: the model's content exactly as returned (so its thought
            # signature goes back), then the function's response.
            response_part = types.Part.from_function_response(
                name=call.name, response={"result": "Sunny, 21 degrees."}
            )
            if call.id:
                response_part.function_response.id = call.id
            contents = [
                types.Content(role="user", parts=[types.Part.from_text(text=question)]),
                content,
                types.Content(role="user", parts=[response_part]),
            ]
            if signed:
                # The mock refuses a function call turn without its signature: the pass below is
                # the signature's round trip, not luck.
                unsigned = content.model_copy(deep=True)
                for part in unsigned.parts:
                    part.thought_signature = None
                try:
                    api.models.generate_content(
                        model=model, contents=[contents[0], unsigned, contents[2]], config=config
                    )
                except errors.ClientError as exc:
                    check(exc.code == 400, f"without the signature: code {exc.code} != 400")
                    check("thought_signature" in (exc.message or ""), f"without the signature: {exc.message!r}")
                else:
                    raise CheckFailed("the function call turn without its thought signature was accepted")
            second = api.models.generate_content(model=model, contents=contents, config=config)
            check(not second.function_calls, f"second turn: function calls again {second.function_calls!r}")
            text = second.text
            check(isinstance(text, str) and text.startswith(answer), f"second turn: text {text!r} != {answer!r}…")
            finish = second.candidates[0].finish_reason
            check(finish == types.FinishReason.STOP, f"second turn: finish_reason {finish!r}")
            return f"{call.name}({call.args}) id={call.id!r} signature={signature!r} -> {text!r}"

        return step

    def count_tokens(sdk, version, model):
        def step():
            mark = len(trace.requests)
            res = sdk.models.count_tokens(model=model, contents=PROMPT)
            sent(mark, f"/{version}/models/{model}:countTokens")
            check((res.total_tokens or 0) > 0, f"total_tokens {res.total_tokens}")
            return f"total_tokens={res.total_tokens}"

        return step

    def embed(sdk, version):
        def step():
            mark = len(trace.requests)
            res = sdk.models.embed_content(model=EMBEDDING_MODEL, contents=["a", "b"])
            # The SDK sends even one text to batchEmbedContents.
            sent(mark, f"/{version}/models/{EMBEDDING_MODEL}:batchEmbedContents")
            embeddings = res.embeddings or []
            check(len(embeddings) == 2, f"{len(embeddings)} embeddings, expected 2")
            sizes = [len(e.values or []) for e in embeddings]
            check(all(size > 0 for size in sizes), f"embedding sizes {sizes}")
            check(embeddings[0].values != embeddings[1].values, "the two embeddings are equal")
            return f"2 embeddings of {sizes[0]} dimensions"

        return step

    def list_models():
        mark = len(trace.requests)
        names = [model.name for model in api.models.list()]
        requests = trace.since(mark)
        check(requests and requests[0].url.path == "/v1beta/models", f"first request {requests[:1]!r}")
        check(f"models/{GEMINI_MODEL}" in names, f"models/{GEMINI_MODEL} not in {names[:20]!r}…")
        check(f"models/{CLAUDE_MODEL}" in names, f"models/{CLAUDE_MODEL} not in {names[:20]!r}…")
        return f"{len(names)} models in {len(requests)} request(s)"

    def get_model(model):
        def step():
            res = api.models.get(model=model)
            check(res.name == f"models/{model}", f"name {res.name!r}")
            check((res.input_token_limit or 0) > 0, f"input_token_limit {res.input_token_limit}")
            return f"{res.name} ({res.display_name}) actions={res.supported_actions}"

        return step

    def invalid_key():
        bad = client("lr_live_invalid" + uuid.uuid4().hex)
        try:
            bad.models.generate_content(model=GEMINI_MODEL, contents=PROMPT)
        except errors.ClientError as exc:
            check(exc.code == 401, f"code {exc.code} != 401")
            return f"ClientError {exc.code} {exc.status}: {exc.message!r}"
        raise CheckFailed("generate_content with an invalid key did not raise genai.errors.ClientError")

    steps = [
        (f"generate_content ({GEMINI_MODEL})", generate(api, "v1beta", GEMINI_MODEL, GEMINI_ANSWER)),
        (f"generate_content_stream ({GEMINI_MODEL})", stream(api, "v1beta", GEMINI_MODEL, GEMINI_ANSWER)),
        (f"function call round trip ({GEMINI_MODEL})", function_call_round_trip(GEMINI_MODEL, GEMINI_ANSWER, True)),
        (f"count_tokens ({GEMINI_MODEL})", count_tokens(api, "v1beta", GEMINI_MODEL)),
        (f"embed_content ({EMBEDDING_MODEL})", embed(api, "v1beta")),
        ("models.list", list_models),
        (f"models.get ({GEMINI_MODEL})", get_model(GEMINI_MODEL)),
        (f"models.get ({CLAUDE_MODEL})", get_model(CLAUDE_MODEL)),
        (f"generate_content ({CLAUDE_MODEL})", generate(api, "v1beta", CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"generate_content_stream ({CLAUDE_MODEL})", stream(api, "v1beta", CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"function call round trip ({CLAUDE_MODEL})", function_call_round_trip(CLAUDE_MODEL, ANTHROPIC_ANSWER, False)),
        (f"count_tokens ({CLAUDE_MODEL})", count_tokens(api, "v1beta", CLAUDE_MODEL)),
        (f"generate_content ({OPENAI_MODEL})", generate(api, "v1beta", OPENAI_MODEL, OPENAI_ANSWER)),
        (f"generate_content_stream ({OPENAI_MODEL})", stream(api, "v1beta", OPENAI_MODEL, OPENAI_ANSWER)),
        (f"function call round trip ({OPENAI_MODEL})", function_call_round_trip(OPENAI_MODEL, OPENAI_ANSWER, False)),
        (f"v1: generate_content ({GEMINI_MODEL})", generate(api_v1, "v1", GEMINI_MODEL, GEMINI_ANSWER)),
        (f"v1: generate_content_stream ({GEMINI_MODEL})", stream(api_v1, "v1", GEMINI_MODEL, GEMINI_ANSWER)),
        (f"v1: generate_content ({CLAUDE_MODEL})", generate(api_v1, "v1", CLAUDE_MODEL, ANTHROPIC_ANSWER)),
        (f"v1: generate_content_stream ({OPENAI_MODEL})", stream(api_v1, "v1", OPENAI_MODEL, OPENAI_ANSWER)),
        (f"v1: count_tokens ({GEMINI_MODEL})", count_tokens(api_v1, "v1", GEMINI_MODEL)),
        (f"v1: embed_content ({EMBEDDING_MODEL})", embed(api_v1, "v1")),
        ("invalid key -> ClientError 401", invalid_key),
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

    if os.environ.get("AROUTER_TRACE") == "1":
        print("HTTP requests the SDK made:")
        trace.show(api_key)

    if failures:
        sys.stdout.flush()
        for failure in failures:
            print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
