"""hearth serve under mixed load for HEARTH_LOAD_SECONDS (default 120): streaming and plain
chat, completions, Ollama chat, embeddings, tokenize and model listing from 6 clients at
once, some hanging up mid-stream.  No request may fail, and the resident memory must not grow
after warm-up (the first quarter)."""
import os
import random
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from server_util import Server  # noqa: E402

openai = pytest.importorskip("openai")
ollama = pytest.importorskip("ollama")

SECONDS = float(os.environ.get("HEARTH_LOAD_SECONDS", "120"))
PROMPTS = ["Tell me about the sea.", "What is 3 times 7?", "Name a famous painter.", "Write a short poem.",
           "Why is the sky blue?", "List three animals."]


def test_mixed_load_no_failures_no_rss_growth(hearth, smollm2):
    s = Server(hearth, smollm2, "-c", "512", "--parallel", "4", "--queue", "64", "--alias", "smol")
    try:
        c = openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0, timeout=300)
        oc = ollama.Client(host=s.url, timeout=300)
        stop_at = time.time() + SECONDS
        failures, counts, lock = [], {}, threading.Lock()

        def msgs(rng):
            return [{"role": "user", "content": rng.choice(PROMPTS)}]

        def one(rng):
            kind = rng.choice(["chat", "chat_stream", "completion", "ollama_stream", "embed", "tokenize", "models",
                               "hangup"])
            n = rng.randint(4, 24)
            if kind == "chat":
                r = c.chat.completions.create(model="", messages=msgs(rng), max_tokens=n, temperature=0.7,
                                              seed=rng.randint(0, 99))
                assert r.choices[0].finish_reason in ("stop", "length")
            elif kind == "chat_stream":
                chunks = list(c.chat.completions.create(model="", messages=msgs(rng), max_tokens=n, stream=True))
                assert chunks[-1].choices[0].finish_reason in ("stop", "length")
            elif kind == "completion":
                r = c.completions.create(model="", prompt=rng.choice(PROMPTS), max_tokens=n, temperature=0)
                assert r.usage.completion_tokens <= n
            elif kind == "ollama_stream":
                parts = list(oc.chat(model="smol", messages=msgs(rng), stream=True, options={"num_predict": n}))
                assert parts[-1].done
            elif kind == "embed":
                assert len(c.embeddings.create(model="", input=rng.choice(PROMPTS)).data[0].embedding) == 576
            elif kind == "tokenize":
                assert s.request("POST", "/tokenize", {"content": rng.choice(PROMPTS)})[0] == 200
            elif kind == "models":
                assert c.models.list().data
            else:  # a client that hangs up mid-stream
                st = c.chat.completions.create(model="", messages=msgs(rng), max_tokens=200, stream=True)
                it = iter(st)
                next(it)
                next(it)
                st.response.close()
            with lock:
                counts[kind] = counts.get(kind, 0) + 1

        def worker(seed):
            rng = random.Random(seed)
            while time.time() < stop_at:
                try:
                    one(rng)
                except Exception as e:  # noqa: BLE001 — every failure is reported
                    with lock:
                        failures.append(repr(e))

        rss = []
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        t0 = time.time()
        while any(t.is_alive() for t in threads):
            rss.append((time.time() - t0, s.rss_kb()))
            time.sleep(2)
        for t in threads:
            t.join()
        assert not failures, failures[:5]
        assert sum(counts.values()) > 20, counts
        warm = [kb for t, kb in rss if t >= SECONDS / 4]
        assert warm, rss
        base = warm[0]
        growth = max(warm) - base
        print(f"requests {counts}; RSS after warm-up {base} kB, max {max(warm)} kB (+{growth} kB)")
        assert growth < max(16384, base // 10), rss
        assert s.request("GET", "/health")[0] == 200
    finally:
        s.stop()
