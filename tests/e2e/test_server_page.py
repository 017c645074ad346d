"""The chat page at / in headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium): with an API key typed in, it sends a message and shows a streamed reply.  A
screenshot is saved as a test artifact ($HEARTH_ARTIFACTS, default build/artifacts)."""
import os
import shutil
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT, BUILD  # noqa: E402
from server_util import Server  # noqa: E402

webdriver = pytest.importorskip("selenium.webdriver")


def chromium():
    for b in ("chromium", "chromium-browser"):
        if shutil.which(b):
            return shutil.which(b)
    return None


@pytest.mark.skipif(not chromium() or not shutil.which("chromedriver"),
                    reason="needs Debian's chromium and chromium-driver packages")
def test_chat_page_streams_a_reply(hearth, smollm2):
    s = Server(hearth, smollm2, "-c", "512", "--parallel", "2", "--api-key", "page-key")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = Options()
    opts.binary_location = chromium()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,800"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        drv.get(s.url + "/")
        key = drv.find_element(By.ID, "key")
        key.send_keys("page-key")
        drv.execute_script("arguments[0].dispatchEvent(new Event('change'))", key)
        drv.find_element(By.ID, "input").send_keys("What is the capital of France?")
        # streamed: the page records, after every change of the document, the reply's text while
        # it is not yet complete (a MutationObserver: polling from here missed short, fast replies)
        drv.execute_script("""
            window.partials = [];
            new MutationObserver(() => {
                const m = document.querySelectorAll('.msg.assistant');
                const last = m[m.length - 1];
                if (last && last.textContent && !last.dataset.done) window.partials.push(last.textContent);
            }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        """)
        drv.find_element(By.ID, "send").click()
        t0 = time.time()
        while time.time() - t0 < 180:
            msgs = drv.find_elements(By.CSS_SELECTOR, ".msg.assistant")
            if msgs and msgs[-1].get_attribute("data-done"):
                break
            time.sleep(0.05)
        msg = drv.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]
        final = drv.execute_script("const m = document.querySelectorAll('.msg.assistant'); return m[m.length - 1].textContent;")
        # in pieces: some text was shown that was a shorter beginning of the final reply
        partial_seen = any(p and len(p) < len(final) and final.startswith(p)
                           for p in drv.execute_script("return window.partials;"))
        art = os.environ.get("HEARTH_ARTIFACTS", os.path.join(ROOT, BUILD, "artifacts"))
        os.makedirs(art, exist_ok=True)
        drv.save_screenshot(os.path.join(art, "chat_page.png"))
        assert msg.get_attribute("data-done") == "1"
        assert "error" not in msg.get_attribute("class"), msg.text
        # the page samples (temperature > 0), so the words vary from run to run: a non-empty reply
        assert msg.text.strip(), "empty reply"
        assert partial_seen, "the reply did not arrive in pieces"
        assert "smol" in drv.find_element(By.ID, "model").text.lower() or drv.find_element(By.ID, "model").text
        log = s.access_log()
        assert any(e["path"] == "/v1/chat/completions" and e["stream"] and e["status"] == 200 for e in log)
    finally:
        drv.quit()
        s.stop()
