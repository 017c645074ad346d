"""hearth serve gives a request the bits it gets on a fresh server, whatever ran before it or
beside it: the same request twice (the second from the prompt cache), a chat's next turn that
reuses the reply (right away, and after the idle slot was brought to prefill bits), and a long
prompt prefilled in pieces beside a running stream.  Compared: the log-probs of every generated
token, exactly (see HEARTH_STABLE_RUN in include/hearth.h)."""
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from server_util import Server  # noqa: E402

openai = pytest.importorskip("openai")


def client(s):
    return openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0, timeout=300)


def chat(c, messages, n=12):
    r = c.chat.completions.create(model="", messages=messages, max_tokens=n, temperature=0, logprobs=True)
    ch = r.choices[0]
    return ch.message.content, [t.logprob for t in ch.logprobs.content], r.usage


def on_fresh_server(hearth, model, fn, *args):
    s = Server(hearth, model, "-c", "1024", "--parallel", "1", *args)
    try:
        return fn(client(s))
    finally:
        s.stop()


USER1 = [{"role": "user", "content": "Name three colours."}]


def test_same_request_twice(hearth, smollm2):
    s = Server(hearth, smollm2, "-c", "1024", "--parallel", "1")
    try:
        c = client(s)
        a = chat(c, USER1)
        b = chat(c, USER1)
    finally:
        s.stop()
    assert b[2].prompt_tokens_details.cached_tokens > 0  # the second came from the cache
    assert a[2].prompt_tokens_details.cached_tokens == 0
    assert (b[0], b[1]) == (a[0], a[1])


@pytest.mark.parametrize("user,n_reply", [(USER1, 24), ([{"role": "user", "content": "Write a long story about a dragon."}], 400)])
def test_follow_up_turn_reuses_reply_with_fresh_bits(hearth, smollm2, user, n_reply):
    """A short reply (brought to prefill bits in one idle pass) and a long one (several passes
    of at most a prompt chunk each)."""
    s = Server(hearth, smollm2, "-c", "1024", "--parallel", "1")
    try:
        c = client(s)
        text1, _, u1 = chat(c, user, n=n_reply)
        turn2 = user + [{"role": "assistant", "content": text1}, {"role": "user", "content": "And three fruits?"}]
        now = chat(c, turn2)  # at once: the reply was decoded a token at a time, not reused
        again = chat(c, user, n=n_reply)
        time.sleep(3)  # idle: the slot prefills its reply again
        later = chat(c, turn2)
    finally:
        s.stop()
    fresh = on_fresh_server(hearth, smollm2, lambda c: chat(c, turn2))
    assert again[0] == text1
    assert 0 < now[2].prompt_tokens_details.cached_tokens <= u1.prompt_tokens
    # the reply came from the cache (all but a token or two where the template's text splits differently)
    assert later[2].prompt_tokens_details.cached_tokens > u1.prompt_tokens + min(n_reply, u1.completion_tokens) * 3 // 4
    assert (now[0], now[1]) == (fresh[0], fresh[1])
    assert (later[0], later[1]) == (fresh[0], fresh[1])


def test_prompt_split_beside_a_stream(hearth, smollm2):
    """A 129-token prompt arriving while another stream decodes is prefilled in pieces (a pass
    carries 128 prompt tokens then); its log-probs equal a fresh server's, where it is one piece."""
    s = Server(hearth, smollm2, "-c", "1024", "--parallel", "2")
    try:
        c = client(s)
        _, _, toks = s.request("POST", "/tokenize", {"content": "The history of the sea and its ships. " * 40})
        prompt = toks["tokens"][:129]
        assert len(prompt) == 129
        started, ended = threading.Event(), []

        def long_stream():
            for _ in c.completions.create(model="", prompt="Once upon a time", max_tokens=400, temperature=0,
                                          stream=True, extra_body={"ignore_eos": True}):
                started.set()
            ended.append(time.time())

        t = threading.Thread(target=long_stream)
        t.start()
        assert started.wait(60)

        def split(c):
            r = c.completions.create(model="", prompt=prompt, max_tokens=6, temperature=0, logprobs=1)
            return r.choices[0].text, r.choices[0].logprobs.token_logprobs

        got = split(c)
        done = time.time()
        t.join()
    finally:
        s.stop()
    assert ended and ended[0] > done  # the other stream was decoding all along
    assert got == on_fresh_server(hearth, smollm2, split)
