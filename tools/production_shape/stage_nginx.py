"""The deployment kit's nginx site (deploy/nginx/odoo.conf) in front of the
stage's Odoo: the same file, with the stage's ports, a throw-away certificate
and a temporary folder for its logs and sockets."""

import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

# The stage's nginx has a throw-away certificate: its clients do not verify it.
UNVERIFIED = ssl._create_unverified_context()
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "odoo.conf"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    def __init__(self, folder, http_port, gevent_port):
        self.folder = Path(folder)
        self.port, self.plain_port = _free_port(), _free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        subprocess.run(
            [
                shutil.which("openssl"),
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                self.folder / "key.pem",
                "-out",
                self.folder / "cert.pem",
            ],
            capture_output=True,
            check=True,
        )
        site = SITE.read_text(encoding="utf-8")
        site = site.replace("server 127.0.0.1:8069;", f"server 127.0.0.1:{http_port};")
        site = site.replace("server 127.0.0.1:8072;", f"server 127.0.0.1:{gevent_port};")
        site = re.sub(r"^\s*listen\s+\[::\][^;]*;\n", "", site, flags=re.MULTILINE)
        site = re.sub(r"listen\s+443 ssl;", f"listen 127.0.0.1:{self.port} ssl;", site)
        site = re.sub(r"listen\s+80;", f"listen 127.0.0.1:{self.plain_port};", site)
        site = re.sub(r"(ssl_certificate\s+)\S+;", rf"\g<1>{self.folder}/cert.pem;", site)
        site = re.sub(r"(ssl_certificate_key\s+)\S+;", rf"\g<1>{self.folder}/key.pem;", site)
        site = site.replace("/var/log/nginx/", f"{self.folder}/")
        (self.folder / "site.conf").write_text(site, encoding="utf-8")
        temp = "".join(
            f"    {name}_temp_path {self.folder}/{name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (self.folder / "nginx.conf").write_text(
            f"pid {self.folder}/nginx.pid;\n"
            f"error_log {self.folder}/error.log;\n"
            "daemon off;\n"
            "events {}\n"
            "http {\n"
            f"    access_log {self.folder}/access.log;\n"
            f"{temp}"
            f"    include {self.folder}/site.conf;\n"
            "}\n",
            encoding="utf-8",
        )
        command = [
            shutil.which("nginx"),
            "-p",
            f"{self.folder}/",
            "-c",
            f"{self.folder}/nginx.conf",
        ]
        help_text = subprocess.run([command[0], "-h"], capture_output=True, text=True, check=False)
        if " -e " in help_text.stderr + help_text.stdout:
            command[1:1] = ["-e", f"{self.folder}/error.log"]
        self.process = subprocess.Popen(  # the kit's nginx, our own arguments
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.process.poll() is None:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"nginx did not start: {self.errors()}")

    def errors(self):
        try:
            return (self.folder / "error.log").read_text(encoding="utf-8")
        except OSError:
            return ""

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def available():
    return bool(shutil.which("nginx") and shutil.which("openssl")) and os.name == "posix"
