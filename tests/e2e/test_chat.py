"""hearth chat driven through a pseudo-terminal (as a person at a terminal would) and through a
pipe, with SmolLM2 at --temp 0: two turns, /stats showing that the second turn prefilled only
the new tokens, /reset, /save and /load, Ctrl-C during a reply, Ctrl-C twice / Ctrl-D at the
prompt, dropping the oldest turns when the context fills, one reply per piped line."""
import json
import os
import pty
import re
import select
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import run  # noqa: E402

ARGS = ["--temp", "0", "-t", "2"]
STATS = re.compile(rb"context: (\d+) of (\d+) tokens in use\r?\n"
                   rb"last prompt: (\d+) tokens, (\d+) processed, (\d+) reused from the cache;[^\n]*\n"
                   rb"last reply: (\d+) tokens;")


class Pty:
    """hearth chat on the slave side of a pseudo-terminal; we type on the master side."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        self.buf = b""

    def expect(self, pat, timeout=120):
        """Reads until `pat` (bytes) appears; returns everything before and including it."""
        end = time.time() + timeout
        while pat not in self.buf:
            left = end - time.time()
            r, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not r:
                raise AssertionError(f"timed out waiting for {pat!r}; output so far: {self.buf[-800:]!r}")
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                data = b""
            if not data:
                raise AssertionError(f"hearth chat ended while waiting for {pat!r}: {self.buf[-800:]!r}")
            self.buf += data
        i = self.buf.index(pat) + len(pat)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def prompt(self):
        out = self.expect(b"> ")
        time.sleep(0.05)  # let the line editor take the terminal before we type
        return out

    def send(self, text):
        os.write(self.fd, text)

    def line(self, text):
        """Types a line at the prompt and returns the output up to the next prompt."""
        self.send(text.encode() + b"\r")
        return self.prompt()

    def stats(self):
        out = self.line("/stats")
        m = STATS.search(out)
        assert m, out
        keys = ("n_past", "n_ctx", "prompt", "processed", "reused", "gen")
        return dict(zip(keys, map(int, m.groups())))

    def wait(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            try:  # keep draining so the child never blocks on a full pty
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.buf += os.read(self.fd, 4096)
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise AssertionError("hearth chat did not exit")

    def kill(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.fixture
def chat(hearth, smollm2):
    sessions = []

    def start(*extra):
        p = Pty([hearth, "chat", "-m", smollm2, *ARGS, *extra])
        sessions.append(p)
        banner = p.prompt()
        assert b"hearth chat" in banner and b"/help" in banner
        return p

    yield start
    for p in sessions:
        p.kill()


def test_two_turns_cache_reuse_reset_save_load(chat, tmp_path):
    p = chat("-n", "16", "-c", "512")
    out = p.line("What is the capital of France?")
    reply1 = out[:-2].split(b"France?", 1)[-1].strip()
    assert reply1, out
    s1 = p.stats()
    assert s1["n_ctx"] == 512
    assert s1["reused"] == 0 and s1["processed"] == s1["prompt"] > 10
    assert 1 <= s1["gen"] <= 16
    # the cache holds the first prompt and the reply (all but its last, sampled-only token)
    assert s1["n_past"] >= s1["prompt"] + s1["gen"] - 1

    p.line("And what is the capital of Germany?")
    s2 = p.stats()
    new = s2["prompt"] - s1["n_past"]
    assert s2["prompt"] > s1["n_past"]
    assert s2["processed"] + s2["reused"] == s2["prompt"]
    # only the new tokens were prefilled: everything the cache held was reused (a token or two
    # of slack where the reply text tokenizes differently from the generated ids)
    assert s2["reused"] >= s1["n_past"] - 2, (s1, s2)
    assert s2["processed"] <= new + 2, (s1, s2)
    assert s2["processed"] < s2["prompt"] // 2, (s1, s2)

    save = tmp_path / "conv.json"
    out = p.line(f"/save {save}")
    assert b"saved 4 messages" in out, out
    msgs = json.loads(save.read_text())["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[0]["content"] == "What is the capital of France?"
    assert msgs[2]["content"] == "And what is the capital of Germany?"

    out = p.line("/reset")
    assert b"cleared" in out
    p.line("Hello!")
    s3 = p.stats()
    # after /reset the prompt is the (default) system prompt and one message: shorter than the
    # second turn's; the system prompt's tokens still come from the cache
    assert s3["prompt"] < s2["prompt"]
    assert 0 < s3["reused"] < s3["prompt"]

    out = p.line(f"/load {save}")
    assert b"loaded 4 messages" in out, out
    p.line("/system You are a terse assistant.")
    p.line("Thanks.")
    s4 = p.stats()
    assert s4["prompt"] > s2["prompt"]  # the four loaded messages, the system prompt, the new one
    out = p.line("/nonsense")
    assert b"unknown command" in out
    p.send(b"\x04")  # Ctrl-D at an empty prompt quits
    assert p.wait() == 0


def test_ctrl_c_stops_reply_and_chat_goes_on(chat):
    p = chat("-n", "400", "-c", "1024")
    p.send(b"Count from 1 to 200, one number per line.\r")
    p.expect(b"\n")  # the echo of the line
    p.expect(b"2")   # the reply has started
    p.send(b"\x03")  # Ctrl-C during the reply
    out = p.prompt()
    assert b"[stopped]" in out, out
    s = p.stats()
    assert s["gen"] < 100, s  # far fewer tokens than the reply wanted

    # the program is still there and takes the next message
    p.send(b"Say hello.\r")
    p.expect(b"\n")
    out = p.expect(b"> ", timeout=240)
    assert out.strip(), out
    s2 = p.stats()
    assert s2["reused"] > 0 and s2["processed"] < s2["prompt"]

    # Ctrl-C at the prompt warns; a second one quits
    p.send(b"\x03")
    out = p.expect(b"quit")
    assert b"Ctrl-C again" in out
    p.send(b"\x03")
    assert p.wait() == 0


def test_not_a_terminal_one_reply_per_line(hearth, smollm2):
    base = [hearth, "chat", "-m", smollm2, *ARGS, "-n", "16", "-c", "512"]
    one = run(base, input=b"What is the capital of France?\n", timeout=300)
    assert one.returncode == 0, one.stderr
    two = run(base, input=b"What is the capital of France?\nAnd of Germany?\n", timeout=300)
    assert two.returncode == 0, two.stderr
    # nothing but the replies: no banner, no prompt; each reply ends with a newline
    assert one.stdout.endswith(b"\n") and len(one.stdout) > 1
    assert b"hearth chat" not in two.stdout and not two.stdout.startswith(b"> ")
    # the first reply is the same whether or not a second line follows (greedy); then the second
    assert two.stdout.startswith(one.stdout)
    second = two.stdout[len(one.stdout):]
    assert second.endswith(b"\n") and second.strip(), two.stdout


def test_context_full_drops_oldest_turns(hearth, smollm2):
    lines = b"".join(b"Tell me a fact about the number %d.\n" % i for i in range(3))
    p = run([hearth, "chat", "-m", smollm2, *ARGS, "-n", "16", "-c", "128"], input=lines, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count(b"\n") >= 3
    assert b"context full: dropped the" in p.stderr and b"system prompt is kept" in p.stderr, p.stderr


def test_message_too_long_for_context(hearth, smollm2):
    lines = b"word " * 300 + b"\nHi\n"
    p = run([hearth, "chat", "-m", smollm2, *ARGS, "-n", "4", "-c", "128"], input=lines, timeout=300)
    assert p.returncode == 1 and b"does not fit the context" in p.stderr, p.stderr
    # an empty line stands for the reply that could not be given; the next line is answered
    assert p.stdout.startswith(b"\n") and p.stdout[1:].strip() and p.stdout.endswith(b"\n"), p.stdout


def test_bad_arguments(hearth, smollm2):
    assert run([hearth, "chat"]).returncode == 2
    assert run([hearth, "chat", "-m", smollm2, "--temp", "hot"]).returncode == 2
    p = run([hearth, "chat", "-m", "/nonexistent.gguf"], input=b"hi\n")
    assert p.returncode == 1 and b"hearth chat" in p.stderr
