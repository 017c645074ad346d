"""Starts `hearth serve` on a free port for the server tests and collects its stderr."""
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request


class Server:
    def __init__(self, hearth, model, *args, wait=True):
        self.args = [hearth, "serve", "-m", model, "--port", "0", *args]
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(60):
            self.stop()
            raise RuntimeError("hearth serve did not start: " + "".join(self.lines[-20:]))
        self.url = f"http://127.0.0.1:{self.port}"
        if wait:
            self.wait_healthy()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()

    def wait_healthy(self, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            status, _, _ = self.request("GET", "/health")
            if status == 200:
                return
            assert self.proc.poll() is None, "server exited: " + "".join(self.lines[-20:])
            time.sleep(0.1)
        raise RuntimeError("server not healthy in time")

    def request(self, method, path, body=None, headers=None, timeout=120):
        """(status, headers, parsed JSON or text) of one plain HTTP request (for error cases)."""
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        if data is not None and "Content-Type" not in (headers or {}):
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, hdrs, raw = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, dict(e.headers), e.read()
        try:
            return status, hdrs, json.loads(raw)
        except ValueError:
            return status, hdrs, raw.decode("utf-8", "replace")

    def access_log(self):
        out = []
        for line in list(self.lines):
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
