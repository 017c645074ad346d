"""A local stand-in for the Hugging Face hub, for `hearth pull` / `hearth fit hf://` tests.

It serves what the hub serves, the way the hub serves it:
  GET /api/models/{owner}/{repo}/tree/main[?recursive=true]  -> JSON list of
      {"type": "file", "oid", "size", "path", "lfs": {"oid": sha256, "size", "pointerSize"}};
      with page_size set, page_size entries a page and, as the hub does, a header
      `Link: <.../tree/main?recursive=true&cursor=...>; rel="next"` while more follow
  GET|HEAD /{owner}/{repo}/resolve/main/{path}  -> 302 to a CDN URL, with X-Linked-Etag (the
      sha256), X-Linked-Size and X-Repo-Commit; 401 for a gated repo without the right
      bearer token; 404 (X-Error-Code: RepoNotFound / EntryNotFound) otherwise
  GET /cdn/{owner}/{repo}/{path}  -> the bytes, honouring Range (206 + Content-Range)
Faults, per file: "truncate_once" (the first body stops half-way and the connection drops),
"corrupt" (the bytes served differ from the published hash).  on_blob(repo, path), when set,
runs before a blob's bytes are sent (e.g. to fill the disk mid-download).  No network beyond
127.0.0.1.
"""
import base64
import hashlib
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hub:
    def __init__(self, token="secret-token"):
        self.repos = {}      # "owner/repo" -> {"files": {path: bytes}, "gated": bool}
        self.faults = {}     # ("owner/repo", path) -> fault name
        self.requests = []   # (method, path, range header, authorization)
        self.token = token
        self.page_size = None  # listing entries per page (None: one page)
        self.link_base = None  # where next-page links point (None: this server)
        self.on_blob = None
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                hub._handle(self, head=True)

            def do_GET(self):
                hub._handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()

    def add(self, repo, path, data, gated=False):
        r = self.repos.setdefault(repo, {"files": {}, "gated": gated})
        r["gated"] = r["gated"] or gated
        r["files"][path] = data

    # ---- request handling -------------------------------------------------------------
    def _reply(self, h, code, body=b"", headers=None, head=False, ctype="application/json"):
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if not head and body:
            h.wfile.write(body)

    def _authorized(self, h, repo):
        if not self.repos[repo]["gated"]:
            return True
        return h.headers.get("Authorization") == f"Bearer {self.token}"

    def _handle(self, h, head):
        u = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(u.path)
        with self.lock:
            self.requests.append((h.command, path, h.headers.get("Range"), h.headers.get("Authorization")))
        parts = path.strip("/").split("/")
        if len(parts) >= 5 and parts[0] == "api" and parts[1] == "models" and parts[4:6] == ["tree", "main"]:
            return self._tree(h, parts[2] + "/" + parts[3], head, urllib.parse.parse_qs(u.query))
        if len(parts) >= 5 and parts[2:4] == ["resolve", "main"]:
            return self._resolve(h, parts[0] + "/" + parts[1], "/".join(parts[4:]), head)
        if len(parts) >= 4 and parts[0] == "cdn":
            return self._blob(h, parts[1] + "/" + parts[2], "/".join(parts[3:]), head)
        self._reply(h, 404, b'{"error":"not found"}', head=head)

    def _tree(self, h, repo, head, query):
        if repo not in self.repos:
            return self._reply(h, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"}, head)
        if not self._authorized(h, repo):
            return self._reply(h, 401, b'{"error":"Access to this repository is restricted"}', head=head)
        out = []
        for p, data in sorted(self.repos[repo]["files"].items()):
            e = {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": p}
            if p.endswith(".gguf"):
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            out.append(e)
        headers = {}
        if self.page_size:
            # the cursor is opaque to clients; like the hub's, base64 of where the page starts
            cur = query.get("cursor", [""])[0]
            start = int(base64.urlsafe_b64decode(cur).decode()) if cur else 0
            if start + self.page_size < len(out):
                nxt = base64.urlsafe_b64encode(str(start + self.page_size).encode()).decode()
                q = urllib.parse.urlencode({"recursive": "true", "expand": "false", "cursor": nxt})
                headers["Link"] = f'<{self.link_base or self.url}/api/models/{repo}/tree/main?{q}>; rel="next"'
            out = out[start:start + self.page_size]
        self._reply(h, 200, json.dumps(out).encode(), headers, head=head)

    def _resolve(self, h, repo, p, head):
        if repo not in self.repos:
            return self._reply(h, 404, b'{"error":"Repository not found"}', {"X-Error-Code": "RepoNotFound"}, head)
        if not self._authorized(h, repo):
            return self._reply(h, 401, b'{"error":"Access to this repository is restricted"}', head=head)
        data = self.repos[repo]["files"].get(p)
        if data is None:
            return self._reply(h, 404, b'{"error":"Entry not found"}', {"X-Error-Code": "EntryNotFound"}, head)
        # like the hub, the bytes come from another host (the CDN): here "localhost"
        cdn = f"http://localhost:{self.server.server_address[1]}"
        headers = {"Location": f"{cdn}/cdn/{repo}/{p}", "X-Repo-Commit": "0" * 40, "ETag": '"' + hashlib.sha1(data).hexdigest() + '"'}
        if p.endswith(".gguf"):
            headers["X-Linked-Etag"] = '"' + hashlib.sha256(data).hexdigest() + '"'
            headers["X-Linked-Size"] = str(len(data))
        self._reply(h, 302, b"", headers, head)

    def _blob(self, h, repo, p, head):
        data = self.repos.get(repo, {"files": {}})["files"].get(p)
        if data is None:
            return self._reply(h, 404, b"no such blob", head=head, ctype="text/plain")
        fault = self.faults.get((repo, p))
        if fault == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:-1] + bytes([data[-1] ^ 0x01])
        start, end, code = 0, len(data) - 1, 200
        rng = h.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else 0
            end = min(int(b), len(data) - 1) if b else len(data) - 1
            if start >= len(data):
                return self._reply(h, 416, b"", {"Content-Range": f"bytes */{len(data)}"}, head, "text/plain")
            code = 206
        body = data[start:end + 1]
        h.send_response(code)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Accept-Ranges", "bytes")
        if code == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        h.end_headers()
        if head:
            return
        if self.on_blob:
            self.on_blob(repo, p)
        if fault == "truncate_once" and len(body) > 1:
            self.faults.pop((repo, p), None)
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        try:
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
