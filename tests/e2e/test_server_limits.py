"""hearth serve: API key, CORS, limits (401/413/503), malformed HTTP on a raw socket,
disconnecting clients, and 16 concurrent streams on 4 slots giving the same text as alone."""
import concurrent.futures
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from server_util import Server  # noqa: E402

openai = pytest.importorskip("openai")
ollama = pytest.importorskip("ollama")

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def keyed(hearth, smollm2, tmp_path_factory):
    kf = tmp_path_factory.mktemp("key") / "key.txt"
    kf.write_text(KEY + "\n")
    s = Server(hearth, smollm2, "-c", "512", "--parallel", "2", "--api-key-file", str(kf),
               "--cors", "http://example.com", "--max-body", "4096", "--log-prompts")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def single(hearth, smollm2):
    s = Server(hearth, smollm2, "-c", "1024", "--parallel", "1", "--queue", "0")
    yield s
    s.stop()


def test_api_key(keyed):
    assert keyed.request("GET", "/health")[0] == 200  # open
    assert keyed.request("GET", "/")[0] == 200        # the page itself; it asks for the key
    bad = openai.OpenAI(base_url=keyed.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.status_code == 401 and e.value.body["code"] == "invalid_api_key"
    status, hdrs, j = keyed.request("GET", "/v1/models")
    assert status == 401 and set(j["error"]) == {"message", "type", "param", "code"}
    status, _, j = keyed.request("GET", "/api/tags")
    assert status == 401 and isinstance(j["error"], str)
    assert keyed.request("GET", "/metrics")[0] == 401
    good = openai.OpenAI(base_url=keyed.url + "/v1", api_key=KEY, max_retries=0)
    assert [m.id for m in good.models.list().data]
    r = good.chat.completions.create(model="x" * 0 or good.models.list().data[0].id,
                                     messages=[{"role": "user", "content": "Hi"}], max_tokens=3, temperature=0)
    assert r.usage.completion_tokens == 3
    oc = ollama.Client(host=keyed.url, headers={"Authorization": "Bearer " + KEY})
    assert oc.list().models
    with pytest.raises(ollama.ResponseError) as e:
        ollama.Client(host=keyed.url).list()
    assert e.value.status_code == 401


def test_log_prompts(keyed):
    good = openai.OpenAI(base_url=keyed.url + "/v1", api_key=KEY, max_retries=0)
    good.chat.completions.create(model="", messages=[{"role": "user", "content": "purple-elephant"}], max_tokens=1)
    time.sleep(0.2)
    assert any("purple-elephant" in e.get("prompt", "") for e in keyed.access_log())


def test_cors(keyed):
    status, hdrs, _ = keyed.request("OPTIONS", "/v1/chat/completions",
                                    headers={"Origin": "http://example.com",
                                             "Access-Control-Request-Method": "POST"})
    assert status == 204
    assert hdrs["Access-Control-Allow-Origin"] == "http://example.com"
    assert "Authorization" in hdrs["Access-Control-Allow-Headers"]
    status, hdrs, _ = keyed.request("GET", "/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in hdrs


def test_body_limit_streamed(keyed):
    body = b'{"messages": [{"role": "user", "content": "' + b"a" * 5000 + b'"}]}'
    status, _, j = keyed.request("POST", "/v1/chat/completions", body, headers={"Authorization": "Bearer " + KEY})
    assert status == 413 and j["error"]["code"] == "request_too_large"


def raw(port, data, read=True, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def test_malformed_http(single):
    port = single.port
    r = raw(port, b"GARBAGE\r\n\r\n")
    assert r == b"" or r.startswith(b"HTTP/1.1 4")
    r = raw(port, b"GET /health HTTP/9.9\r\n\r\n")
    assert r == b"" or r.startswith(b"HTTP/1.1 4") or r.startswith(b"HTTP/1.1 505")
    r = raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
    assert r == b"" or r.split(b" ")[1][:1] == b"4"
    r = raw(port, b"\x00\xff\xfe binary junk \r\n\r\n")
    assert r == b"" or r.startswith(b"HTTP/1.1 4")
    # a truncated body: the client goes away mid-request
    raw(port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mess", read=False)
    # a bad chunked encoding
    r = raw(port, b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n")
    assert r == b"" or r.split(b" ")[1][:1] == b"4"
    # still serving
    assert single.request("GET", "/health")[0] == 200
    c = openai.OpenAI(base_url=single.url + "/v1", api_key="x", max_retries=0)
    assert c.completions.create(model="", prompt="Hello", max_tokens=2).usage.completion_tokens == 2


def test_queue_full_503(single):
    c = openai.OpenAI(base_url=single.url + "/v1", api_key="x", max_retries=0, timeout=300)
    started = threading.Event()

    def long_stream():
        s = c.completions.create(model="", prompt="Once upon a time", max_tokens=60, temperature=0, stream=True)
        for _ in s:
            started.set()

    t = threading.Thread(target=long_stream)
    t.start()
    assert started.wait(60)
    status, hdrs, j = single.request("POST", "/v1/completions", {"prompt": "Hi", "max_tokens": 2})
    assert status == 503 and hdrs.get("Retry-After") == "1" and j["error"]["code"] == "server_busy"
    with pytest.raises(openai.InternalServerError) as e:
        c.completions.create(model="", prompt="Hi", max_tokens=2)
    assert e.value.status_code == 503
    t.join()


def test_disconnect_frees_slot(single):
    c = openai.OpenAI(base_url=single.url + "/v1", api_key="x", max_retries=0, timeout=300)
    # how long 3 tokens take alone
    t0 = time.time()
    c.completions.create(model="", prompt="The sky is", max_tokens=3, temperature=0)
    alone = time.time() - t0
    s = c.completions.create(model="", prompt="Write a very long essay about the sea.", max_tokens=900,
                             temperature=0, stream=True)
    it = iter(s)
    for _ in range(3):
        next(it)
    s.response.close()  # the client goes away mid-stream
    t0 = time.time()
    while True:  # the slot is free again at once: no 503, no waiting for 900 tokens
        try:
            c.completions.create(model="", prompt="The sky is", max_tokens=3, temperature=0)
            break
        except openai.InternalServerError:
            assert time.time() - t0 < 5, "slot not freed"
            time.sleep(0.05)
    assert time.time() - t0 < alone * 3 + 3


PROMPTS = ["What is the capital of France?", "Name three colours.", "Write a haiku about rain.",
           "What is two plus two?", "Describe a cat in one sentence.", "Say hello in Spanish.",
           "What is the largest planet?", "Give me a fruit name."]


def test_concurrent_streams_match_alone(hearth, smollm2):
    s = Server(hearth, smollm2, "-c", "512", "--parallel", "4")
    try:
        c = openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0, timeout=600)

        def one(prompt, stream):
            kw = dict(model="", messages=[{"role": "user", "content": prompt}], max_tokens=16, temperature=0)
            if not stream:
                return c.chat.completions.create(**kw).choices[0].message.content
            return "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(stream=True, **kw)
                           if ch.choices)

        alone = {p: one(p, False) for p in PROMPTS}
        jobs = [PROMPTS[i % len(PROMPTS)] for i in range(16)]
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            got = list(ex.map(lambda p: one(p, True), jobs))
        for p, g in zip(jobs, got):
            assert g == alone[p], (p, g, alone[p])
        status, _, text = s.request("GET", "/metrics")
        assert "hearth_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 24" in text
    finally:
        s.stop()
