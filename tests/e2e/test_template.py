"""hearth template render against Python jinja2 goldens (scripts/make-golden-templates.py).

Every template of tests/golden/templates/templates/ over every conversation in contexts/:
hearth's output must be byte-identical to jinja2's, and where jinja2 raised, hearth must exit 1
with a message on stderr.  The model templates are also rendered straight from the GGUF with
-m when the model can be fetched."""
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEARTH = os.path.join(ROOT, os.environ.get("HEARTH_BUILD", "build"), "hearth")
GOLD = os.path.join(ROOT, "tests", "golden", "templates")
NOW = "1721995200"  # must match HEARTH_TEMPLATE_NOW in scripts/make-golden-templates.py


def _cases():
    out = []
    for t in sorted(os.listdir(os.path.join(GOLD, "templates"))):
        name = t[:-6]
        for c in sorted(os.listdir(os.path.join(GOLD, "contexts"))):
            out.append((name, c[:-5]))
    return out


def _render(args):
    env = dict(os.environ, HEARTH_TEMPLATE_NOW=NOW)
    return subprocess.run([HEARTH, "template", "render"] + args, capture_output=True, env=env, timeout=60)


def _check(p, tname, cname):
    base = os.path.join(GOLD, "out", tname, cname)
    if os.path.exists(base + ".txt"):
        with open(base + ".txt", "rb") as f:
            want = f.read()
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        assert p.stdout == want
    else:
        assert os.path.exists(base + ".error")
        assert p.returncode == 1, f"jinja2 raised but hearth rendered: {p.stdout[:300]!r}"
        assert p.stderr.strip(), "no error message"
        assert p.stdout == b""


@pytest.mark.parametrize("tname,cname", _cases())
def test_template_golden(tname, cname):
    p = _render(["--template", os.path.join(GOLD, "templates", tname + ".jinja"),
                 "--context", os.path.join(GOLD, "contexts", cname + ".json")])
    _check(p, tname, cname)


def _model(name):
    try:
        p = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), name], capture_output=True,
                           text=True, timeout=1800)
        path = p.stdout.strip().splitlines()[-1] if p.returncode == 0 and p.stdout.strip() else ""
    except (OSError, subprocess.TimeoutExpired):
        path = ""
    if not path or not os.path.exists(path):
        pytest.skip(f"model {name} cannot be fetched")
    return path


@pytest.mark.parametrize("model,tname", [("smollm2-135m", "model-smollm2-135m"),
                                         ("gemma3-270m", "model-gemma3-270m-default-chatml")])
def test_model_template(model, tname):
    path = _model(model)
    for c in sorted(os.listdir(os.path.join(GOLD, "contexts"))):
        p = _render(["-m", path, "--context", os.path.join(GOLD, "contexts", c)])
        _check(p, tname, c[:-5])


def test_cli_errors(tmp_path):
    t = tmp_path / "t.jinja"
    t.write_text("{{ raise_exception('boom') }}")
    ctx = tmp_path / "c.json"
    ctx.write_text(json.dumps({"messages": []}))
    p = _render(["--template", str(t), "--context", str(ctx)])
    assert p.returncode == 1 and b"boom" in p.stderr and p.stdout == b""
    ctx.write_text("[not json")
    p = _render(["--template", str(t), "--context", str(ctx)])
    assert p.returncode == 1 and p.stderr
    t.write_text("{% for x in range(100000000) %}{% endfor %}")
    ctx.write_text("{}")
    p = _render(["--template", str(t), "--context", str(ctx)])
    assert p.returncode == 1 and b"limit" in p.stderr
    p = subprocess.run([HEARTH, "template", "render", "--context", str(ctx)], capture_output=True)
    assert p.returncode != 0
