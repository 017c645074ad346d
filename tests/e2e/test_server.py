"""hearth serve against the real binary and SmolLM2, driven by the official `openai` and
`ollama` client packages (plain HTTP only for error statuses and malformed requests)."""
import math
import os
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import run  # noqa: E402
from server_util import Server  # noqa: E402

openai = pytest.importorskip("openai")
ollama = pytest.importorskip("ollama")

SYSTEM = "You are a helpful assistant."
Q = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def srv(hearth, smollm2):
    s = Server(hearth, smollm2, "-c", "1024", "--parallel", "4", "--alias", "smol")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(srv):
    return openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def oclient(srv):
    return ollama.Client(host=srv.url, timeout=300)


def chat(client, messages=Q, **kw):
    kw.setdefault("temperature", 0)
    kw.setdefault("max_tokens", 24)
    return client.chat.completions.create(model="smol", messages=messages, **kw)


def chatml(messages):
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


# ---- OpenAI ----------------------------------------------------------------------------------


def test_models(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == ["smol"]
    m = client.models.retrieve("smol")
    assert m.id == "smol" and m.object == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_chat_nonstream_shape(client):
    r = chat(client)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.created > 0
    assert r.model == "smol"
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant" and c.finish_reason in ("stop", "length")
    assert c.message.content  # (the text itself: see the equality tests; greedy output can shift with batch shape)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_stream_equals_nonstream(client):
    full = chat(client, max_tokens=40)
    parts, finish, roles = [], None, []
    for chunk in chat(client, max_tokens=40, stream=True):
        assert chunk.object == "chat.completion.chunk"
        for ch in chunk.choices:
            if ch.delta.role:
                roles.append(ch.delta.role)
            if ch.delta.content:
                parts.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert roles == ["assistant"]
    assert "".join(parts) == full.choices[0].message.content
    assert finish == full.choices[0].finish_reason


def test_stream_include_usage(client):
    chunks = list(chat(client, max_tokens=6, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6
    assert all(c.usage is None for c in chunks[:-1])


def test_max_tokens_length(client):
    r = chat(client, messages=[{"role": "user", "content": "Count from one to one hundred in words."}], max_tokens=7)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 7
    r = chat(client, messages=[{"role": "user", "content": "Count from one to one hundred in words."}],
             max_completion_tokens=3)
    assert r.usage.completion_tokens == 3


def test_stop_sequence(client):
    msgs = [{"role": "user", "content": "Write one sentence about Paris."}]
    text = chat(client, messages=msgs, max_tokens=30).choices[0].message.content
    words = text.split()
    assert len(words) >= 4, text
    stop = " " + words[3]
    cut = text[: text.index(stop)]
    r = chat(client, messages=msgs, max_tokens=30, stop=[stop, "zzzz-never"])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == cut
    # the same through a stream
    parts = [c.choices[0].delta.content or "" for c in chat(client, messages=msgs, max_tokens=30, stop=stop, stream=True)
             if c.choices]
    assert "".join(parts) == cut


def test_seed_reproducible(client):
    msgs = [{"role": "user", "content": "Tell me a short story about a cat."}]
    a = chat(client, messages=msgs, temperature=0.8, seed=1234, max_tokens=24).choices[0].message.content
    b = chat(client, messages=msgs, temperature=0.8, seed=1234, max_tokens=24).choices[0].message.content
    assert a == b


def test_n2(client):
    r = chat(client, n=2, temperature=0.9, seed=7, max_tokens=12)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content for c in r.choices)
    assert 2 <= r.usage.completion_tokens <= 24


def test_logprobs(client):
    r = chat(client, logprobs=True, top_logprobs=3, max_tokens=8)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for e in content:
        assert e.logprob <= 0 and isinstance(e.token, str) and isinstance(e.bytes, list)
        assert len(e.top_logprobs) == 3
        lps = [t.logprob for t in e.top_logprobs]
        assert lps == sorted(lps, reverse=True)
        # greedy: the chosen token is the most likely one
        assert abs(e.logprob - lps[0]) < 1e-4
    # the pieces of the tokens spell the text
    assert "".join(e.token for e in content).startswith(r.choices[0].message.content[:10])


def test_usage_prompt_tokens_match_tokenize(client, hearth, smollm2):
    r = chat(client, max_tokens=1)
    p = run([hearth, "tokenize", "-m", smollm2, "--ids", "--parse-special", chatml(Q)], text=True)
    assert p.returncode == 0, p.stderr
    assert r.usage.prompt_tokens == len(p.stdout.split())


def test_completions(client):
    r = client.completions.create(model="smol", prompt="The capital of France is", max_tokens=6, temperature=0,
                                  logprobs=2)
    assert r.object == "text_completion" and r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 6
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == 6 and len(lp.token_logprobs) == 6 and len(lp.top_logprobs) == 6
    s = client.completions.create(model="smol", prompt="The capital of France is", max_tokens=6, temperature=0,
                                  stream=True)
    assert "".join(c.choices[0].text for c in s if c.choices) == r.choices[0].text


def test_embeddings(client):
    r = client.embeddings.create(model="smol", input=["hello world", "the cat sat on the mat"])
    assert len(r.data) == 2 and [d.index for d in r.data] == [0, 1]
    for d in r.data:
        assert len(d.embedding) == 576
        assert abs(math.sqrt(sum(x * x for x in d.embedding)) - 1) < 1e-3
    assert r.data[0].embedding != r.data[1].embedding
    same = client.embeddings.create(model="smol", input="hello world").data[0].embedding
    assert max(abs(a - b) for a, b in zip(same, r.data[0].embedding)) < 1e-5
    assert r.usage.prompt_tokens > 0


# ---- Ollama ----------------------------------------------------------------------------------


def test_ollama_list_show_ps_version(oclient, srv):
    names = [m.model for m in oclient.list().models]
    assert names == ["smol:latest"]
    sh = oclient.show("smol")
    assert sh.details.family == "llama" and sh.details.quantization_level == "Q4_1"
    assert [m.model for m in oclient.ps().models] == ["smol:latest"]
    status, _, body = srv.request("GET", "/api/version")
    assert status == 200 and body["version"]
    with pytest.raises(ollama.ResponseError) as e:
        oclient.show("nope")
    assert e.value.status_code == 404


def test_ollama_chat(oclient):
    opts = {"temperature": 0, "num_predict": 24}
    r = oclient.chat(model="smol", messages=Q, options=opts)
    assert r.done and r.message.role == "assistant" and r.message.content
    assert r.eval_count > 0 and r.prompt_eval_count > 0
    parts = list(oclient.chat(model="smol", messages=Q, options=opts, stream=True))
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    assert "".join(p.message.content for p in parts) == r.message.content


def test_ollama_generate(oclient):
    opts = {"temperature": 0, "num_predict": 5, "seed": 3}
    r = oclient.generate(model="smol", prompt="The capital of France is", raw=True, options=opts)
    assert r.done and r.done_reason == "length" and r.eval_count == 5
    parts = list(oclient.generate(model="smol", prompt="The capital of France is", raw=True, options=opts,
                                  stream=True))
    assert "".join(p.response for p in parts) == r.response
    r2 = oclient.generate(model="smol", prompt="Name a colour.", options={"temperature": 0, "num_predict": 8,
                                                                          "stop": ["\n"]})
    assert r2.done and "\n" not in r2.response


def test_ollama_embed(oclient):
    r = oclient.embed(model="smol", input=["hello", "world"])
    assert len(r.embeddings) == 2 and len(r.embeddings[0]) == 576


# ---- the rest --------------------------------------------------------------------------------


def test_tokenize_detokenize(srv, hearth, smollm2):
    status, _, body = srv.request("POST", "/tokenize", {"content": "Hello world"})
    assert status == 200
    p = run([hearth, "tokenize", "-m", smollm2, "--ids", "--no-special", "Hello world"], text=True)
    assert body["tokens"] == [int(x) for x in p.stdout.split()]
    status, _, body = srv.request("POST", "/detokenize", {"tokens": body["tokens"]})
    assert status == 200 and body["content"] == "Hello world"


def test_metrics_and_access_log(srv, client):
    chat(client, max_tokens=2)
    status, hdrs, text = srv.request("GET", "/metrics")
    assert status == 200 and hdrs["Content-Type"].startswith("text/plain")
    for name in ("hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}",
                 "hearth_prompt_tokens_total", "hearth_generated_tokens_total",
                 "hearth_time_to_first_token_seconds_bucket", "hearth_inter_token_latency_seconds_count",
                 "hearth_requests_active", "hearth_requests_queued", "hearth_kv_cache_usage_ratio"):
        assert name in text, name
    log = srv.access_log()
    chats = [e for e in log if e["path"] == "/v1/chat/completions"]
    assert chats and all("prompt" not in e for e in chats)
    assert all(SYSTEM not in line for line in srv.lines)
    assert {"time", "method", "status", "duration_ms", "prompt_tokens", "completion_tokens"} <= set(chats[0])


def test_chat_page(srv):
    status, hdrs, text = srv.request("GET", "/")
    assert status == 200 and hdrs["Content-Type"].startswith("text/html")
    assert "v1/chat/completions" in text and "<script" in text and "http://" not in text.replace(srv.url, "")


def test_errors(srv, client):
    # malformed JSON, wrong types
    for body in (b"{not json", b"[1,2]", b""):
        status, _, j = srv.request("POST", "/v1/chat/completions", body)
        assert status == 400 and set(j["error"]) == {"message", "type", "param", "code"}, body
    status, _, j = srv.request("POST", "/v1/chat/completions", {"messages": Q, "temperature": "hot"})
    assert status == 400 and j["error"]["param"] == "temperature"
    status, _, j = srv.request("POST", "/v1/chat/completions", {"messages": "hi"})
    assert status == 400 and j["error"]["param"] == "messages"
    with pytest.raises(openai.BadRequestError):
        chat(client, max_tokens=-1)
    # unknown model, unknown path
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-17", messages=Q)
    status, _, j = srv.request("GET", "/v1/nothing-here")
    assert status == 404 and j["error"]["type"] == "invalid_request_error"
    # prompt longer than the context (1024)
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, messages=[{"role": "user", "content": "word " * 1500}])
    assert e.value.status_code == 400 and e.value.body["code"] == "context_length_exceeded"
    # Ollama's error shape
    status, _, j = srv.request("POST", "/api/chat", b"{oops")
    assert status == 400 and isinstance(j["error"], str)


def test_body_too_large(srv):
    # a declared Content-Length over the limit (8 MiB) is refused before the body is sent
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (9 << 20))
        head = s.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head
    assert '"request_too_large"' in head
    status, _, _ = srv.request("GET", "/health")
    assert status == 200


def test_binds_localhost_by_default(srv):
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if f":{srv.port} " in l]
    assert lines and all("127.0.0.1:" in l for l in lines), lines
