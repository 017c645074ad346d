"""Shared fixtures: the hearth binary and the real models (fetched into the cache)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HEARTH_BUILD", "build")
HEARTH = os.path.join(ROOT, BUILD, "hearth") if not os.path.isabs(BUILD) else os.path.join(BUILD, "hearth")


def fetch_model(name):
    """Path of a real model from scripts/fetch-model, or skip the test when it cannot be had."""
    p = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), name], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"model {name} unavailable: {p.stderr.strip()[-200:]}")
    return p.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def hearth():
    assert os.path.exists(HEARTH), f"{HEARTH} not built (run make)"
    return HEARTH


@pytest.fixture(scope="session")
def smollm2():
    return fetch_model("smollm2-135m")


@pytest.fixture(scope="session")
def gemma3():
    return fetch_model("gemma3-270m")


def run(args, **kw):
    """Runs a command, returns CompletedProcess; never raises on a non-zero exit."""
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 600)
    return subprocess.run(args, **kw)
