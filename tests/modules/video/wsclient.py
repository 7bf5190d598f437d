"""Speaking to a live server as a browser would, without a browser: sign in over HTTP (for the
session cookie) and open the visit's WebSocket with that cookie and the page's Origin."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import urlencode

from simple_websocket import Client


def _cookie(response: http.client.HTTPResponse) -> str | None:
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("daraport="):
            return value.split(";", 1)[0]
    return None


def sign_in(port: int, host: str, email: str, password: str) -> str:
    """The ``daraport=...`` session cookie of ``email`` signed in on ``host``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/account/signin", headers={"Host": f"{host}:{port}"})
    page = conn.getresponse()
    html = page.read().decode()
    cookie = _cookie(page)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert cookie and token, "no session or CSRF token on the sign-in page"
    body = urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
    conn.request("POST", "/account/signin", body=body, headers={
        "Host": f"{host}:{port}", "Cookie": cookie,
        "Content-Type": "application/x-www-form-urlencoded"})
    done = conn.getresponse()
    done.read()
    assert done.status in (302, 303), f"sign-in answered {done.status}"
    signed = _cookie(done)
    assert signed
    conn.close()
    return signed


def get(port: int, host: str, path: str, cookie: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Host": f"{host}:{port}", "Cookie": cookie})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


class Participant:
    """One participant's signaling socket."""

    def __init__(self, port: int, host: str, token: str, cookie: str,
                 origin: str | None = None):
        brand_host = host

        class BrandClient(Client):  # type: ignore[misc]
            def handshake(self) -> None:
                self.host = f"{brand_host}:{port}"  # the Host header a browser would send
                super().handshake()

        headers = {"Cookie": cookie,
                   "Origin": origin if origin is not None else f"http://{host}:{port}"}
        self.ws = BrandClient.connect(f"ws://127.0.0.1:{port}/video/ws/{token}",
                                      headers=headers)

    def send(self, **message: Any) -> None:
        self.ws.send(json.dumps(message))

    def receive(self, timeout: float = 5.0) -> dict[str, Any] | None:
        raw = self.ws.receive(timeout=timeout)
        return None if raw is None else json.loads(raw)

    def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next message of type ``kind`` (others before it are skipped)."""
        import time

        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and message.get("type") == kind:
                return message
        raise AssertionError(f"no {kind!r} message within {timeout}s")

    def quiet(self, timeout: float = 0.5) -> list[dict[str, Any]]:
        """Every message that arrives within ``timeout``."""
        got = []
        while (message := self.receive(timeout)) is not None:
            got.append(message)
        return got

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
