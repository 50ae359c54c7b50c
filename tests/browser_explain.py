#!/usr/bin/env python3
"""browser_explain.py - drive `vmmu explain --html` in a real headless
browser (Debian's chromium) over the DevTools protocol on a pipe
(--remote-debugging-pipe: no network port, no extra package).

usage: browser_explain.py CHROMIUM PAGE.html EXPLAIN.txt OUTDIR

PAGE.html is the page of a cold nested walk; EXPLAIN.txt the text output of
`vmmu explain` for the same access. The script clicks Next through every
reference and checks, at each step, the position shown ("reference K of N"),
the highlighted cell (data-step K), the highlighted table entry (the entry
address of reference K) and the narration (exactly reference K's text in
EXPLAIN.txt); then steps back with the arrow keys and the Back button. It
saves a screenshot of step 12 as OUTDIR/explain-html-step12.png. Prints one
line per check ("ok ..." or "FAIL ...") and exits 1 on any failure.
"""
import base64
import json
import os
import re
import select
import subprocess
import sys
import tempfile
import time

chromium, page, explain_txt, outdir = sys.argv[1:5]
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails += 1


# The narration of each reference in the text output: "   5. guest ..." up to
# the next numbered line or blank line.
refs = {}
cur = None
for line in open(explain_txt):
    m = re.match(r"^\s*(\d+)\. ", line)
    if m:
        cur = int(m.group(1))
        refs[cur] = line
    elif cur is not None and line.startswith("       ") and not line.startswith("       =>"):
        refs[cur] += line
    else:
        cur = None


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="vmmu-chromium.")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Move the child's ends out of the way of fds 3 and 4 first.
        a, b = os.dup(to_chrome_r) + 100, os.dup(from_chrome_w) + 100
        os.dup2(to_chrome_r, a)
        os.dup2(from_chrome_w, b)

        def child():
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking",
             "--user-data-dir=" + self.profile, "--window-size=1200,900", "about:blank"],
            # fds 3 and 4 are made by child() and kept (close_fds runs
            # after it and spares pass_fds).
            pass_fds=(3, 4), preexec_fn=child, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for fd in (to_chrome_r, from_chrome_w, a, b):
            os.close(fd)
        self.w = os.fdopen(to_chrome_w, "wb", buffering=0)
        self.r = os.fdopen(from_chrome_r, "rb", buffering=0)
        self.buf = b""
        self.id = 0
        self.events = []
        self.session = None

    def _read_msg(self):
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.r], [], [], 30)
            if not ready:
                raise RuntimeError("no answer from chromium within 30 s")
            chunk = self.r.read(65536)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True):
        self.id += 1
        msg = {"id": self.id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read_msg()
            if m.get("id") == self.id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    del self.events[i]
                    return e
            self.events.append(self._read_msg())
        raise RuntimeError("timeout waiting for " + method)

    def js(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click(self, selector):
        box = self.js(f"(function(){{var r=document.querySelector('{selector}')"
                      f".getBoundingClientRect();return [r.x+r.width/2,r.y+r.height/2];}})()")
        for t in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": t, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def key(self, name, code):
        for t in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent",
                      {"type": t, "key": name, "code": name, "windowsVirtualKeyCode": code})

    def close(self):
        try:
            self.call("Browser.close", session=False)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.profile])


b = Browser()
try:
    targets = b.call("Target.getTargets", session=False)["targetInfos"]
    tid = [t for t in targets if t["type"] == "page"][0]["targetId"]
    b.session = b.call("Target.attachToTarget", {"targetId": tid, "flatten": True},
                       session=False)["sessionId"]
    b.call("Page.enable")
    b.call("Page.navigate", {"url": "file://" + os.path.abspath(page)})
    b.wait_event("Page.loadEventFired")

    n = b.js("steps.length")
    check(n == 24, f"the page has 24 steps (got {n})")
    check(b.js("document.getElementById('pos').textContent") == "overview: 24 references",
          "step 0 is the overview")
    check(b.js("document.getElementById('back').disabled") is True, "Back is disabled at step 0")
    for k in range(1, 25):
        b.click("#next")
        pos = b.js("document.getElementById('pos').textContent")
        cells = b.js("Array.from(document.querySelectorAll('td.cur')).map(c => +c.dataset.step)")
        text = b.js("document.getElementById('narration').textContent")
        entry = b.js("(function(){var r=document.querySelector('tr.cur');"
                     "return r ? r.cells[1].textContent : null;})()")
        want = refs.get(k, "")
        m = re.search(r"entry\s+[gh]PA 0x([0-9a-f]+)", want)
        ok = (pos == f"reference {k} of 24" and cells == [k] and text == want and
              m is not None and entry is not None and int(entry, 16) == int(m.group(1), 16))
        check(ok, f"Next -> reference {k}: position, highlighted cell, table entry and "
                  f"narration" + ("" if ok else
                                  f" (pos={pos!r} cells={cells} entry={entry} "
                                  f"text={text[:60]!r} want={want[:60]!r})"))
        if k == 12:
            shot = b.call("Page.captureScreenshot", {"format": "png"})["data"]
            os.makedirs(outdir, exist_ok=True)
            path = os.path.join(outdir, "explain-html-step12.png")
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot))
            check(os.path.getsize(path) > 1000, f"screenshot of step 12 in {path}")
    check(b.js("document.getElementById('next').disabled") is True, "Next is disabled at the end")
    b.key("ArrowLeft", 37)
    b.key("ArrowLeft", 37)
    check(b.js("document.querySelector('td.cur').dataset.step") == "22" and
          b.js("document.getElementById('pos').textContent") == "reference 22 of 24",
          "two ArrowLeft keys: reference 22")
    b.click("#back")
    check(b.js("document.querySelector('td.cur').dataset.step") == "21", "Back: reference 21")
    b.key("ArrowRight", 39)
    check(b.js("document.getElementById('narration').textContent") == refs.get(22),
          "ArrowRight: reference 22's narration again")
    check(b.js("document.querySelectorAll('td.done').length") == 21,
          "the 21 references before the current one are marked done")
except Exception as e:  # a broken page or browser is a failure, with its reason
    check(False, f"browser session: {e}")
finally:
    b.close()
sys.exit(1 if fails else 0)
