"""`hearth pull`, `hearth list`, `hearth rm` and `hearth fit hf://` against a local stand-in for the
Hugging Face hub (tests/e2e/hubserver.py).  No test touches the internet."""
import hashlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import run  # noqa: E402
from hubserver import Hub  # noqa: E402
from server_util import Server  # noqa: E402

gguf = pytest.importorskip("gguf")

REPO = "acme/tiny-llama-GGUF"


def make_gguf(path, pad_rows=4096, split=None):
    """A small llama-shaped GGUF: 2 layers, width 64, 4 heads, 2 KV heads; a padding FFN
    tensor makes the file pad_rows*64*4 bytes bigger (16 MiB by default)."""
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tiny llama")
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_feed_forward_length(256)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_context_length(2048)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_token_list([f"t{i}" for i in range(32)])
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((32, 64), dtype=np.float32))
    for il in range(2):
        w.add_tensor(f"blk.{il}.attn_q.weight", rng.standard_normal((64, 64), dtype=np.float32))
        w.add_tensor(f"blk.{il}.attn_k.weight", rng.standard_normal((32, 64), dtype=np.float32))
    w.add_tensor("blk.1.ffn_up.weight", rng.standard_normal((pad_rows, 64), dtype=np.float32))
    w.add_tensor("output.weight", rng.standard_normal((32, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("src")
    big = make_gguf(str(d / "a.gguf"), pad_rows=65536)  # ~16 MiB
    small = make_gguf(str(d / "b.gguf"), pad_rows=1024)
    return {"Q8_0": big, "Q4_0": small}


@pytest.fixture
def hub(models):
    with Hub() as h:
        h.add(REPO, "tiny-llama-Q8_0.gguf", models["Q8_0"])
        h.add(REPO, "tiny-llama-Q4_0.gguf", models["Q4_0"])
        h.add(REPO, "README.md", b"# tiny llama\n")
        h.add("acme/gated-GGUF", "gated-Q4_0.gguf", models["Q4_0"], gated=True)
        # a split model: the big file cut in two byte ranges is not a valid split GGUF, so
        # serve two whole small files named as parts (each part is its own GGUF)
        h.add("acme/split-GGUF", "split-Q4_0-00001-of-00002.gguf", models["Q4_0"])
        h.add("acme/split-GGUF", "split-Q4_0-00002-of-00002.gguf", models["Q4_0"][:])
        yield h


@pytest.fixture
def env(hub, tmp_path):
    e = dict(os.environ)
    e["HF_ENDPOINT"] = hub.url
    e["HEARTH_MODELS"] = str(tmp_path / "models")
    e.pop("HF_TOKEN", None)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        e.pop(k, None)
    return e


def store_path(env, repo, name):
    return os.path.join(env["HEARTH_MODELS"], "store", repo, name)


def test_pull_by_quant_list_fit_rm(hearth, env, models, hub):
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    dest = store_path(env, REPO, "tiny-llama-Q8_0.gguf")
    assert p.stdout.strip().splitlines()[-1] == dest
    assert f"{REPO}:Q8_0" in p.stdout
    with open(dest, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == hashlib.sha256(models["Q8_0"]).hexdigest()
    assert not os.path.exists(dest + ".part")
    # progress lines on a non-terminal, and the hash check is reported
    assert "100%" in p.stderr and "sha256 ok" in p.stderr
    # only the Q8_0 file was fetched
    assert not any("Q4_0" in r[1] for r in hub.requests)

    p = run([hearth, "list"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.splitlines() if l.startswith(f"{REPO}:Q8_0")]
    assert line and "llama" in line[0] and "Q8_0" in line[0], p.stdout
    p = run([hearth, "list", "--json"], env=env, text=True)
    entries = json.loads(p.stdout)
    assert entries[0]["name"] == f"{REPO}:Q8_0" and entries[0]["size"] == len(models["Q8_0"])
    assert entries[0]["arch"] == "llama" and entries[0]["n_params"] > 0

    # the store name works where a model path is expected
    p = run([hearth, "fit", f"{REPO}:Q8_0", "--json", "--ctx", "512"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert j["arch"] == "llama" and j["file_bytes"] == len(models["Q8_0"])
    # KV: 2 layers x 512 cells x 2 KV heads x 16 x (k + v) x 2 bytes
    assert j["kv_bytes"] == 2 * 512 * 2 * 16 * 2 * 2

    # pulling again is a no-op
    n = len(hub.requests)
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0 and "already in the store" in p.stderr
    assert not any(r[1].startswith("/cdn/") for r in hub.requests[n:])

    p = run([hearth, "rm", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    assert not os.path.exists(dest) and not os.path.exists(dest + ".json")
    p = run([hearth, "list", "--json"], env=env, text=True)
    assert json.loads(p.stdout) == []
    p = run([hearth, "rm", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode != 0 and "no model named" in p.stderr


def test_pull_hf_url_and_redirect(hearth, env, models, hub):
    p = run([hearth, "pull", f"hf://{REPO}/tiny-llama-Q4_0.gguf"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    dest = store_path(env, REPO, "tiny-llama-Q4_0.gguf")
    with open(dest, "rb") as f:
        assert f.read() == models["Q4_0"]
    # the download went through the resolve URL and its redirect to the CDN
    paths = [r[1] for r in hub.requests]
    assert f"/{REPO}/resolve/main/tiny-llama-Q4_0.gguf" in paths
    assert f"/cdn/{REPO}/tiny-llama-Q4_0.gguf" in paths
    manifest = json.load(open(dest + ".json"))
    assert manifest["sha256"] == hashlib.sha256(models["Q4_0"]).hexdigest()


def test_interrupted_and_resumed(hearth, env, models, hub):
    hub.faults[(REPO, "tiny-llama-Q8_0.gguf")] = "truncate_once"
    dest = store_path(env, REPO, "tiny-llama-Q8_0.gguf")
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode != 0
    assert "resume" in p.stderr, p.stderr
    # no file that looks complete, a partial one that says so
    assert not os.path.exists(dest)
    have = os.path.getsize(dest + ".part")
    assert 0 < have < len(models["Q8_0"])

    n = len(hub.requests)
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    assert "resuming" in p.stderr
    ranges = [r[2] for r in hub.requests[n:] if r[1].startswith("/cdn/")]
    assert ranges == [f"bytes={have}-"], ranges
    with open(dest, "rb") as f:
        assert f.read() == models["Q8_0"]
    assert not os.path.exists(dest + ".part")


def test_corrupted_file_rejected(hearth, env, hub):
    hub.faults[(REPO, "tiny-llama-Q4_0.gguf")] = "corrupt"
    dest = store_path(env, REPO, "tiny-llama-Q4_0.gguf")
    p = run([hearth, "pull", f"{REPO}:Q4_0"], env=env, text=True)
    assert p.returncode != 0
    assert "SHA-256 mismatch" in p.stderr, p.stderr
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")
    p = run([hearth, "list", "--json"], env=env, text=True)
    assert json.loads(p.stdout) == []


def test_not_found(hearth, env):
    p = run([hearth, "pull", "acme/nothing-here:Q4_0"], env=env, text=True)
    assert p.returncode != 0 and "not found" in p.stderr and "404" in p.stderr, p.stderr
    p = run([hearth, "pull", f"hf://{REPO}/missing-Q4_0.gguf"], env=env, text=True)
    assert p.returncode != 0 and "no file" in p.stderr, p.stderr
    p = run([hearth, "pull", f"{REPO}:Q6_K"], env=env, text=True)
    assert p.returncode != 0 and "tiny-llama-Q8_0.gguf" in p.stderr, p.stderr
    p = run([hearth, "fit", f"hf://{REPO}/missing.gguf"], env=env, text=True)
    assert p.returncode != 0 and "404" in p.stderr, p.stderr


def test_gated_needs_token(hearth, env, hub):
    p = run([hearth, "pull", "acme/gated-GGUF:Q4_0"], env=env, text=True)
    assert p.returncode != 0 and "HF_TOKEN" in p.stderr and "401" in p.stderr, p.stderr
    env2 = dict(env, HF_TOKEN="wrong")
    p = run([hearth, "pull", "acme/gated-GGUF:Q4_0"], env=env2, text=True)
    assert p.returncode != 0 and "401" in p.stderr
    env2["HF_TOKEN"] = hub.token
    p = run([hearth, "pull", "acme/gated-GGUF:Q4_0"], env=env2, text=True)
    assert p.returncode == 0, p.stderr
    # the token goes to the hub, never to the CDN it redirects to
    assert all(r[3] is None for r in hub.requests if r[1].startswith("/cdn/"))
    assert any(r[3] == f"Bearer {hub.token}" for r in hub.requests if "/resolve/" in r[1])


def test_no_network(hearth, env):
    env2 = dict(env, HF_ENDPOINT="http://127.0.0.1:9")
    p = run([hearth, "pull", f"{REPO}:Q4_0"], env=env2, text=True)
    assert p.returncode != 0 and "no network" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(env["HEARTH_MODELS"], "store", REPO, "tiny-llama-Q4_0.gguf"))


def test_split_parts(hearth, env, models):
    p = run([hearth, "pull", "acme/split-GGUF:Q4_0"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    for k in (1, 2):
        assert os.path.getsize(store_path(env, "acme/split-GGUF", f"split-Q4_0-0000{k}-of-00002.gguf")) == len(models["Q4_0"])
    p = run([hearth, "list", "--json"], env=env, text=True)
    entries = json.loads(p.stdout)
    assert [e["name"] for e in entries] == ["acme/split-GGUF:Q4_0"]
    assert entries[0]["size"] == 2 * len(models["Q4_0"])
    p = run([hearth, "rm", "acme/split-GGUF:Q4_0"], env=env, text=True)
    assert p.returncode == 0
    assert not os.path.exists(store_path(env, "acme/split-GGUF", "split-Q4_0-00002-of-00002.gguf"))


def test_fit_reads_only_the_header(hearth, env, models, hub, tmp_path):
    p = run([hearth, "fit", f"hf://{REPO}/tiny-llama-Q8_0.gguf", "--json", "--ctx", "1024"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    remote = json.loads(p.stdout)
    cdn = [r for r in hub.requests if r[1].startswith("/cdn/")]
    assert cdn and all(r[2] and r[2].startswith("bytes=") for r in cdn)
    fetched = sum(int(r[2][6:].split("-")[1]) - int(r[2][6:].split("-")[0]) + 1 for r in cdn)
    assert fetched < len(models["Q8_0"]) // 2
    local = tmp_path / "local.gguf"
    local.write_bytes(models["Q8_0"])
    p = run([hearth, "fit", str(local), "--json", "--ctx", "1024"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    for k in ("weights_bytes", "kv_bytes", "total_bytes", "file_bytes", "max_ctx", "fits"):
        assert remote[k] == j[k], k


def test_fit_repo_picks_best_that_fits(hearth, env, models):
    p = run([hearth, "fit", f"hf://{REPO}", "--json"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert sorted(c["file"] for c in j["candidates"]) == ["tiny-llama-Q4_0.gguf", "tiny-llama-Q8_0.gguf"]
    assert j["best"] == "tiny-llama-Q8_0.gguf"  # both fit: the larger, better one
    # a machine with RAM between the two predicted totals fits only the small one
    p = run([hearth, "fit", f"hf://{REPO}", "--json", "--ctx", "512"], env=env, text=True)
    totals = {c["file"]: c["total_bytes"] for c in json.loads(p.stdout)["candidates"]}
    ram_gib = (totals["tiny-llama-Q4_0.gguf"] + totals["tiny-llama-Q8_0.gguf"]) / 2 / 2**30
    p = run([hearth, "fit", f"hf://{REPO}", "--json", "--ram", f"{ram_gib:.6f}", "--ctx", "512"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    fits = {c["file"]: c["fits"] for c in j["candidates"]}
    assert fits["tiny-llama-Q4_0.gguf"] and not fits["tiny-llama-Q8_0.gguf"], j
    assert j["best"] == "tiny-llama-Q4_0.gguf"


def test_listing_spanning_pages(hearth, env, models, hub):
    """The hub pages long listings (Link: <...>; rel="next"); every page is read."""
    hub.page_size = 1  # README.md, tiny-llama-Q4_0.gguf, tiny-llama-Q8_0.gguf: three pages
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    with open(store_path(env, REPO, "tiny-llama-Q8_0.gguf"), "rb") as f:
        assert f.read() == models["Q8_0"]
    assert sum(1 for r in hub.requests if r[1] == f"/api/models/{REPO}/tree/main") == 3
    # a repository's listing for `fit hf://owner/repo` spans the pages too
    p = run([hearth, "fit", f"hf://{REPO}", "--json", "--ctx", "512"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    assert sorted(c["file"] for c in json.loads(p.stdout)["candidates"]) == ["tiny-llama-Q4_0.gguf", "tiny-llama-Q8_0.gguf"]
    # a next-page link to another host is not followed (the token would go with it)
    hub.link_base = "http://example.invalid"
    n = len(hub.requests)
    p = run([hearth, "pull", f"{REPO}:Q4_0"], env=env, text=True)
    assert p.returncode != 0 and "next page" in p.stderr, p.stderr
    assert [r[1] for r in hub.requests[n:]] == [f"/api/models/{REPO}/tree/main"]


def test_disk_full_file_size_limit(hearth, env, models):
    """A write that fails mid-download (here: past RLIMIT_FSIZE, which needs no privileges;
    the kernel then fails write() with EFBIG once SIGXFSZ is ignored, which `hearth pull`
    does itself) gives a clear error and leaves only a .part file, which a later pull resumes."""
    resource = pytest.importorskip("resource")
    limit = 1 << 20
    assert len(models["Q8_0"]) > 4 * limit

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # hearth must not die of the default action
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    dest = store_path(env, REPO, "tiny-llama-Q8_0.gguf")
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True, preexec_fn=limited)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "cannot write" in p.stderr and "file size limit" in p.stderr, p.stderr
    assert not os.path.exists(dest) and not os.path.exists(dest + ".json")
    assert 0 < os.path.getsize(dest + ".part") <= limit
    p = run([hearth, "list", "--json"], env=env, text=True)
    assert json.loads(p.stdout) == []
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0 and "resuming" in p.stderr, p.stderr
    with open(dest, "rb") as f:
        assert f.read() == models["Q8_0"]


@pytest.fixture
def small_fs(tmp_path):
    """A 24 MiB tmpfs (needs root and mount rights: skipped otherwise)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    d = tmp_path / "small"
    d.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(d)], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {p.stderr.strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def test_disk_full_real(hearth, env, models, hub, small_fs):
    """ENOSPC on a real (small) file system: refused up front when the free space is known to
    be short, and mid-transfer when the disk fills during the download."""
    env = dict(env, HEARTH_MODELS=str(small_fs / "models"))
    dest = store_path(env, REPO, "tiny-llama-Q8_0.gguf")
    filler = small_fs / "filler"
    filler.write_bytes(b"\0" * (12 << 20))  # 12 of 24 MiB free: the 16 MiB file cannot fit
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 1 and "disk full" in p.stderr, p.stderr
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")

    filler.unlink()
    fired = []

    def fill(repo, path):  # the disk fills up while the bytes are on their way
        if not fired:
            fired.append(path)
            filler.write_bytes(b"\0" * (16 << 20))

    hub.on_blob = fill
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert fired and p.returncode == 1, p.stderr
    assert "No space left on device" in p.stderr and "disk full" in p.stderr, p.stderr
    assert not os.path.exists(dest) and not os.path.exists(dest + ".json")
    assert os.path.getsize(dest + ".part") < len(models["Q8_0"])
    filler.unlink()
    p = run([hearth, "pull", f"{REPO}:Q8_0"], env=env, text=True)
    assert p.returncode == 0 and "resuming" in p.stderr, p.stderr
    with open(dest, "rb") as f:
        assert f.read() == models["Q8_0"]


def test_truncated_transfer_message(hearth, env, hub):
    hub.faults[(REPO, "tiny-llama-Q4_0.gguf")] = "truncate_once"
    p = run([hearth, "pull", f"{REPO}:Q4_0"], env=env, text=True)
    assert p.returncode == 1 and "truncated transfer" in p.stderr and "resume" in p.stderr, p.stderr
    assert not os.path.exists(store_path(env, REPO, "tiny-llama-Q4_0.gguf"))


SMOL_REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def pulled_smollm2(hearth, smollm2, tmp_path_factory):
    """The real SmolLM2 pulled from the stand-in hub into a fresh store: (env, store name)."""
    with open(smollm2, "rb") as f:
        data = f.read()
    e = dict(os.environ)
    e["HEARTH_MODELS"] = str(tmp_path_factory.mktemp("store"))
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "HF_TOKEN"):
        e.pop(k, None)
    with Hub() as h:
        h.add(SMOL_REPO, SMOL_FILE, data)
        e["HF_ENDPOINT"] = h.url
        p = run([hearth, "pull", f"{SMOL_REPO}:Q4_1"], env=e, text=True)
    assert p.returncode == 0, p.stderr
    return e, f"{SMOL_REPO}:Q4_1"


@pytest.mark.parametrize("cmd", [
    ["run", "-m", "MODEL", "-p", "The capital of France is", "-n", "8", "--temp", "0", "-c", "128"],
    ["tokenize", "-m", "MODEL", "--ids", "Hello world, store names!"],
    ["detokenize", "-m", "MODEL", "19556", "905", "28"],
    ["template", "show", "-m", "MODEL"],
    ["perplexity", "-m", "MODEL", "-f", "TEXT", "-c", "64", "--chunks", "1"],
])
def test_store_name_where_a_path_goes(hearth, smollm2, pulled_smollm2, tmp_path, cmd):
    """`-m NAME` gives what `-m PATH` gives."""
    env, name = pulled_smollm2
    text = tmp_path / "text.txt"
    text.write_text("The quick brown fox jumps over the lazy dog. " * 20)
    cmd = [str(text) if a == "TEXT" else a for a in cmd]
    by_path = run([hearth] + [smollm2 if a == "MODEL" else a for a in cmd], env=env)
    by_name = run([hearth] + [name if a == "MODEL" else a for a in cmd], env=env)
    assert by_path.returncode == 0, by_path.stderr
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stdout == by_path.stdout and by_name.stdout.strip()


def test_store_name_info_bench_chat_serve(hearth, smollm2, pulled_smollm2, monkeypatch):
    env, name = pulled_smollm2
    a = json.loads(run([hearth, "info", smollm2, "--json"], env=env).stdout)
    for arg in ([name], ["-m", name], [SMOL_FILE], [SMOL_FILE[:-5]], [f"hf://{SMOL_REPO}/{SMOL_FILE}"], [SMOL_REPO]):
        p = run([hearth, "info", *arg, "--json"], env=env)
        assert p.returncode == 0, (arg, p.stderr)
        assert json.loads(p.stdout) == a, arg
    p = run([hearth, "bench", "-m", name, "-p", "8", "-n", "4", "-r", "1", "--json"], env=env, text=True)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0]["model_filename"] == SMOL_FILE
    p = run([hearth, "chat", "-m", name, "-n", "4", "--temp", "0"], env=env, input=b"Hi\n")
    assert p.returncode == 0 and p.stdout.strip(), p.stderr
    # "last used" moved: the store resolved the name
    entries = json.loads(run([hearth, "list", "--json"], env=env).stdout)
    assert [e["name"] for e in entries] == [name] and entries[0]["last_used"] > 0
    for k in ("HEARTH_MODELS",):
        monkeypatch.setenv(k, env[k])
    srv = Server(hearth, name)
    try:
        status, _, body = srv.request("GET", "/v1/models")
        assert status == 200 and body["data"], body
    finally:
        srv.stop()


def test_unknown_store_name(hearth, pulled_smollm2, tmp_path):
    env, _ = pulled_smollm2
    for cmd in (["run", "-m", "acme/none:Q4_0", "-p", "x"], ["info", "acme/none:Q4_0"], ["bench", "-m", "nothing-here"],
                ["tokenize", "-m", "acme/none:Q4_0", "x"], ["serve", "-m", "acme/none:Q4_0", "--port", "0"]):
        p = run([hearth, *cmd], env=env, text=True)
        assert p.returncode == 1, (cmd, p.returncode, p.stderr)
        assert "no model of that name in the store" in p.stderr and f"hearth {cmd[0]}" in p.stderr, (cmd, p.stderr)
    p = run([hearth, "info", str(tmp_path / "missing.gguf")], env=env, text=True)
    assert p.returncode == 1 and "No such file" in p.stderr
