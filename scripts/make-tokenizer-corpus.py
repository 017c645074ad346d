#!/usr/bin/env python3
"""Writes tests/golden/tokenizer/corpus.txt: hard strings for the tokenizer, one a line.

Each line is one test string, escaped so any bytes fit on a line: \\n \\t \\r \\\\ and \\xNN
(a raw byte; used for invalid UTF-8 and control characters).  Everything else is literal
UTF-8.  Deterministic: the same corpus every run.
"""
import os
import random

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "tokenizer", "corpus.txt")

S = []
# scripts and languages
S += [
    "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    "Grüße aus Köln, schöne Straße", "Ça va? Très bien, merci — à bientôt!",
    "¿Dónde está la biblioteca? ¡Allí!", "Привет, как дела? Всё хорошо.",
    "Ελληνικά: καλημέρα κόσμε", "שלום עולם, מה שלומך?", "مرحبا بالعالم، كيف حالك؟",
    "नमस्ते दुनिया, आप कैसे हैं?", "বাংলা ভাষা", "தமிழ் மொழி", "ภาษาไทยง่ายนิดเดียว",
    "ខ្ញុំស្រឡាញ់អ្នក", "日本語のテキスト、カタカナとひらがな。", "中文测试：你好，世界！",
    "한국어 텍스트입니다. 안녕하세요!", "Tiếng Việt có dấu: Người, được, những",
    "ქართული ენა", "Հայերեն լեզու", "አማርኛ ቋንቋ", "Türkçe: ğüşıöç İstanbul",
    "Polski: zażółć gęślą jaźń", "Čeština: příliš žluťoučký kůň", "Íslenska: þetta er ðæ",
    "ᚠᛇᚻ᛫ᛒᛦᚦ runes", "𐌰𐌱𐌲 gothic", "Ⅻ roman ⅻ numerals Ⅷ", "ﬁﬂ ligatures ﬀ",
    "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ　１２３", "½ ¼ ¾ ⅓ fractions", "x² + y³ = z⁴", "H₂O and CO₂",
]
# emoji, ZWJ sequences, flags, skin tones, variation selectors
S += [
    "😀😃😄😁", "👨‍👩‍👧‍👦 family", "👩🏽‍💻 coder", "🏳️‍🌈 flag", "🇺🇸🇫🇷🇯🇵 flags",
    "👍🏻👍🏼👍🏽👍🏾👍🏿", "❤️ vs ❤ vs ♥", "✅ done ❌ failed", "🦙 llama 🚀 rocket 🌫 fog",
    "emoji in the😀middle", "🧑‍🤝‍🧑", "#️⃣ keycap 1️⃣", "🫠🫡🫢 new emoji",
]
# combining marks
S += [
    "e\u0301 (e + combining acute) vs é", "a\u0308o\u0308u\u0308", "Z̤̺̦̜̣a̖̲͇l̞̝g̗o̧͔̟ text",
    "ṩ̈ stacked", "\u0915\u094d\u0937 conjunct", "n\u0303 ñ", "\u05e9\u05c1\u05b8 pointed hebrew",
]
# code, tabs, whitespace runs
S += [
    "def f(x):\n\treturn x * 2\n", "int main(void) {\n    return 0;\n}\n",
    "if (a && b || !c) { x += 1; }", "for (int i = 0; i < n; ++i) arr[i] = i;",
    "<div class=\"a\">text</div>", "SELECT * FROM t WHERE id = 42;",
    "const x = () => { return `template ${y}`; };", "#include <stdio.h>",
    "    four spaces", "\t\ttwo tabs", "a\t\t\tb", "x" + " " * 17 + "y", " " * 40,
    "\n\n\n\n", "\r\n\r\n windows", "trailing spaces   ", "   leading spaces", " \t \n mixed ",
    "line1\nline2\n\nline4", "\u00a0non-breaking\u00a0space", "thin\u2009space and\u3000ideographic",
    "zero\u200bwidth\u200cjoiner\u200d", "\u2028line sep\u2029para sep", "\x0b\x0c vt ff",
    "json: {\"key\": [1, 2.5, -3e10, null, true]}", "path/to/file_name-v2.tar.gz",
    "https://example.com/a?b=c&d=e#frag", "user@example.org", "C:\\Windows\\System32",
    "    if x:\n        pass\n    else:\n        raise ValueError('bad')\n",
    "<<<<<<< HEAD\n=======\n>>>>>>> branch", "a==b!=c<=d>=e", "...---...", "!!!???", "—–-",
]
# digits of every length
for n in range(1, 26):
    S.append("".join(str((i * 7 + 3) % 10) for i in range(n)))
S += ["3.14159265358979", "1,234,567.89", "-42", "+1 (555) 123-4567", "0x1F 0b1010 0o17",
      "1e-9", "12:34:56", "2024-01-31", "v1.2.3-rc.4", "١٢٣٤٥ arabic digits", "१२३ devanagari digits",
      "１２３ fullwidth digits", "a1b22c333d4444"]
# apostrophes and contractions
S += [
    "I'm you're he's she'd we'll they've it's", "I'M YOU'RE HE'S SHE'D WE'LL THEY'VE",
    "don't won't can't shouldn't", "'s 't 're 've 'm 'll 'd", "rock 'n' roll",
    "It’s curly ’apostrophes’", "O'Neil's dog's bone", "''quoted''", "'''triple'''",
    "we'Ve a'lL", "Tom's, Jerry's", "l'homme d'état",
]
# text that looks like special tokens
S += [
    "<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "<s>[INST] hi [/INST]</s>",
    "<start_of_turn>user\nhello<end_of_turn>", "<bos><eos><pad>", "<unk>", "<|eot_id|>",
    "<|im_start|", "|im_start|>", "< |im_start| >", "<<|im_start|>>", "<mask> [CLS] [SEP]",
    "<0x0A>", "<0xFF> <0x00>", "<|reserved_special_token_0|>", "<fim_prefix>x<fim_suffix>",
    "<start_of_image>", "<unused0>", "</s>", "<|im_end|><|im_end|>",
]
# invalid UTF-8 and raw bytes (written with \xNN escapes)
INVALID = [
    b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82(", b"\xf0\x9f\x98",
    b"\xf0\x9f\x98 x", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
    b"\x80\x80\x80", b"ok\xffok\xfe", b"\x00nul\x00", b"\x01\x02\x03\x1f", b"\x7f del",
    b"caf\xe9", b"\xa0\xa1",
]
# mixed and long
S += [
    "MixedCASE camelCase snake_case SCREAMING_CASE kebab-case", "ALLCAPS WORDS HERE",
    "iPhone eBay McDonald's", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababab", "The year 1984 was 40 years before 2024.",
    "Price: $19.99 (€18,50; £15.00; ¥2000)", "100% sure; 50/50 chance", "a.b.c.d.e",
    "Mr. Smith went to Washington. He said: \"Hi!\"", "e.g. i.e. etc. vs.",
    "#hashtag @mention", "~tilde ^caret `backtick` |pipe|", "*bold* _italic_ **strong**",
    "[link](http://x.y)", "snake_case_with_123_numbers", "ＡＢＣ abc ＡbＣ",
    "Ω≈ç√∫˜µ≤≥÷", "∀x∈ℝ: x²≥0", "→ ← ↑ ↓ ⇒ ⇔", "♠♣♥♦", "©®™", "«guillemets» „quotes“",
    "", " ", "  ", "a", "\n", "\t", "😀", "1", "'", "é",
]
random.seed(1234)
words = ["the", "of", "tokenizer", "ünïcödé", "数据", "🙂", "123", "don't", "\t", "  ", "\n", "x_y", "<|im_end|>", "—"]
for i in range(30):
    S.append(" ".join(random.choice(words) for _ in range(random.randint(3, 25))))


def esc(b: bytes) -> str:
    out = []
    s = b.decode("utf-8", errors="surrogateescape")
    for ch in s:
        o = ord(ch)
        if ch == "\\": out.append("\\\\")
        elif ch == "\n": out.append("\\n")
        elif ch == "\t": out.append("\\t")
        elif ch == "\r": out.append("\\r")
        elif 0xDC80 <= o <= 0xDCFF: out.append("\\x%02x" % (o - 0xDC00))
        elif o < 0x20 or o == 0x7F: out.append("\\x%02x" % o)
        elif o in (0x2028, 0x2029, 0x85) or (0xD800 <= o <= 0xDFFF):
            out.append("".join("\\x%02x" % c for c in ch.encode("utf-8", "surrogatepass")))
        else: out.append(ch)
    return "".join(out)


lines = [esc(s.encode("utf-8")) for s in S] + [esc(b) for b in INVALID]
with open(OUT, "w", encoding="utf-8", newline="\n") as f:
    for l in lines:
        f.write(l + "\n")
print(OUT, len(lines), "strings")
