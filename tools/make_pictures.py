"""Draw the default status, direction, client type and app pictures, and
take the README screenshots.

Run with any Python that has Pillow: ``python tools/make_pictures.py``.
The PNGs it writes under static/ are committed; this script documents how.

``python tools/make_pictures.py screenshots [URL [DATABASE]]`` retakes the
README screenshots (static/description/calls_list*.png, reporting*.png) from
a running demo (``PCA_HTTP_PORT=8091 tools/start_demo.sh phone_shots``; URL
default http://127.0.0.1:8069, DATABASE default phone_demo) with headless
Chromium (``PCA_CHROMIUM``, default /usr/bin/chromium), logged in as
admin/admin. Run it with Odoo's Python (it needs requests and
websocket-client): ``/opt/odoo19/venv/bin/python tools/make_pictures.py
screenshots http://127.0.0.1:8091 phone_shots``. It installs Korean (with the
addon's translations) for the Korean calls list, and sets admin back to
English afterwards (Hangul needs a Korean font, e.g. Debian's fonts-nanum,
else it shows as boxes). Each PNG is shrunk by ``pngquant`` when installed.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

PICTURES = {
    # status: colour, symbol
    "status_answered": ("#28a745", "\u2714"),
    "status_missed": ("#dc3545", "\u2716"),
    "status_busy": ("#fd7e14", "\u2212"),
    "status_failed": ("#6c757d", "!"),
    "status_unknown": ("#17a2b8", "?"),
    # Incoming calls matter most to the business: the brightest picture.
    "direction_incoming": ("#ffcc00", "\u2199"),
    "direction_outgoing": ("#3d6fd6", "\u2197"),
    "direction_internal": ("#8a8f98", "\u21c4"),
    "client_type_prospect": ("#5bc0de", "P"),
    "client_type_customer": ("#28a745", "C"),
    "client_type_problem": ("#dc3545", "!"),
    "client_type_vip": ("#d4af37", "\u2605"),
}


def draw(colour, symbol, size=128):
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.ellipse((4, 4, size - 4, size - 4), fill=colour)
    font = ImageFont.truetype(FONT, int(size * 0.55))
    dark = colour in ("#ffcc00", "#d4af37")
    pen.text(
        (size / 2, size / 2), symbol, font=font, anchor="mm", fill="#222222" if dark else "white"
    )
    return image


def main():
    target = ROOT / "static" / "src" / "img"
    target.mkdir(parents=True, exist_ok=True)
    for name, (colour, symbol) in PICTURES.items():
        draw(colour, symbol).save(target / f"{name}.png", optimize=True)
    icon = Image.new("RGBA", (256, 256), "#1f6f8b")
    pen = ImageDraw.Draw(icon)
    font = ImageFont.truetype(FONT, 170)
    pen.text((128, 132), "\u260e", font=font, anchor="mm", fill="white")
    icon.save(ROOT / "static" / "description" / "icon.png", optimize=True)


CALLS = "/odoo/action-phone_call_accounting.phone_call_action"
REPORTING = "/odoo/action-phone_call_accounting.phone_call_report_action"
# file name, url, width, height, language
SHOTS = [
    ("calls_list.png", CALLS, 1366, 768, "en_US"),
    ("calls_list_1920.png", CALLS, 1920, 1080, "en_US"),
    ("reporting.png", REPORTING, 1366, 768, "en_US"),
    ("reporting_1920.png", REPORTING, 1920, 1080, "en_US"),
    ("calls_list_ko.png", CALLS, 1366, 768, "ko_KR"),
]
# True once the view has rendered: a list with rows (or its empty help) or a
# graph with its canvas, and no loading indicator or blocking dialog open.
READY = """(() => {
    if (document.querySelector('.o_loading_indicator, .o_blockUI, .fa-spin')) return false;
    if (document.querySelector('.o_error_dialog')) return 'error';
    const list = document.querySelector('.o_list_renderer .o_data_row, .o_view_nocontent');
    const graph = document.querySelector('.o_graph_renderer canvas');
    return Boolean(list || graph);
})()"""


class Odoo:
    """A logged-in JSON-RPC session (requests) on a demo database."""

    def __init__(self, url, db, login="admin", password="admin"):
        import requests

        self.url = url.rstrip("/")
        self.http = requests.Session()
        page = self.http.get(f"{self.url}/web/login", params={"db": db}, timeout=60).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        answer = self.http.post(
            f"{self.url}/web/login",
            data={"csrf_token": token, "db": db, "login": login, "password": password},
            timeout=60,
        )
        if "session_id" not in self.http.cookies or "/web/login" in answer.url:
            raise SystemExit(f"cannot log in as {login} on {self.url} ({db})")
        self.uid = self.call("res.users", "search", [[("login", "=", login)]])[0]

    @property
    def session_id(self):
        return self.http.cookies["session_id"]

    def call(self, model, method, args, **kwargs):
        answer = self.http.post(
            f"{self.url}/web/dataset/call_kw",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": args, "kwargs": kwargs},
            },
            timeout=600,
        ).json()
        if "error" in answer:
            raise SystemExit(f"{model}.{method}: {answer['error']['data']['message']}")
        return answer["result"]

    def install_language(self, code):
        """Activate the language and load its terms for the installed modules
        (the addon's i18n too), through the wizard Settings uses."""
        langs = self.call(
            "res.lang",
            "search_read",
            [[("code", "=", code)]],
            fields=["active"],
            context={"active_test": False},
        )
        if not langs:
            raise SystemExit(f"no language {code}")
        wizard = self.call(
            "base.language.install", "create", [{"lang_ids": [(6, 0, [langs[0]["id"]])]}]
        )
        self.call("base.language.install", "lang_install", [[wizard]])

    def set_language(self, code):
        self.call("res.users", "write", [[self.uid], {"lang": code}])


class Chromium:
    """Headless Chromium driven over the DevTools protocol (websocket-client)."""

    def __init__(self):
        import websocket

        self.profile = tempfile.mkdtemp(prefix="pca-shots-")
        binary = os.environ.get("PCA_CHROMIUM", "/usr/bin/chromium")
        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().count("\n") >= 1:
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        import requests

        pages = requests.get(f"http://127.0.0.1:{port}/json", timeout=10).json()
        page = next(p for p in pages if p["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=120)
        self.next_id = 0
        self.send("Page.enable")

    def send(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise SystemExit(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def shoot(self, url, width, height, target, cookie):
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Network.setCookie", name="session_id", value=cookie, url=url)
        self.send("Page.navigate", url=url)
        deadline = time.time() + 60
        state = False
        while time.time() < deadline:
            time.sleep(0.5)
            state = self.evaluate(READY)
            if state:
                break
        if state is not True:
            raise SystemExit(f"{url} did not render ({state or 'timeout'})")
        time.sleep(1.5)  # charts animate; fonts settle
        self.evaluate("document.activeElement && document.activeElement.blur()")
        data = self.send("Page.captureScreenshot", format="png")["data"]
        target.write_bytes(base64.b64decode(data))

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def shrink(path):
    if shutil.which("pngquant"):
        subprocess.run(
            [
                "pngquant",
                "--force",
                "--skip-if-larger",
                "--quality",
                "70-95",
                "--ext",
                ".png",
                str(path),
            ],
            check=False,
        )


def screenshots(url="http://127.0.0.1:8069", db="phone_demo"):
    odoo = Odoo(url, db)
    target = ROOT / "static" / "description"
    browser = Chromium()
    try:
        for name, path, width, height, lang in SHOTS:
            if lang != "en_US":
                odoo.install_language(lang)
            odoo.set_language(lang)
            try:
                browser.shoot(url.rstrip("/") + path, width, height, target / name, odoo.session_id)
            finally:
                odoo.set_language("en_US")
            shrink(target / name)
            # A command-line tool reports to its terminal.
            print(f"{name}: {width}x{height}, {(target / name).stat().st_size // 1024} KB")  # pylint: disable=print-used
    finally:
        browser.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["screenshots"]:
        screenshots(*sys.argv[2:4])
    else:
        main()
