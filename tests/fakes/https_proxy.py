"""A loopback HTTPS-intercepting proxy that proves the egress-proxy path works.

It accepts ``CONNECT api.twilio.com:443`` and nothing else, answers the tunnel itself with a
certificate for ``api.twilio.com`` issued by a throwaway ``trustme`` CA, reads the decrypted
HTTP request and forwards it as plain HTTP to the fake Twilio (``upstream``). It never opens a
connection anywhere but ``upstream``; any other CONNECT target or plain request gets 403.

Bounded on purpose: every socket has a timeout, one request per tunnel, daemon threads, and
``stop()`` closes the listener and waits for the accept loop.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from pathlib import Path

import trustme

INTERCEPTED_HOST = "api.twilio.com"
_MAX_HEAD = 64 * 1024
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}


class InterceptingProxy:
    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        host: str = INTERCEPTED_HOST,
        timeout: float = 5.0,
    ) -> None:
        self.upstream = upstream
        self.host = host
        self.timeout = timeout
        self.ca = trustme.CA()
        self._server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(host).configure_cert(self._server_ctx)
        self._lock = threading.Lock()
        self.connects: list[str] = []  # CONNECT targets that were tunnelled
        self.refused: list[str] = []  # request lines that were refused
        self.forwarded: list[str] = []  # "METHOD /path" of decrypted requests sent upstream
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def port(self) -> int:
        assert self._listener is not None, "proxy not started"
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """What to put in HTTPS_PROXY."""
        return f"http://127.0.0.1:{self.port}"

    def write_ca_bundle(self, path: Path) -> Path:
        """Write the throwaway CA's certificate (PEM) for REQUESTS_CA_BUNDLE."""
        self.ca.cert_pem.write_to_path(str(path))
        return path

    def start(self) -> InterceptingProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name="https-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def __enter__(self) -> InterceptingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(self.timeout)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            try:
                head = _read_head(conn)
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                method, _, rest = request_line.partition(" ")
                target = rest.split(" ", 1)[0]
                if method.upper() != "CONNECT" or target.lower() != f"{self.host}:443":
                    with self._lock:
                        self.refused.append(request_line)
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                    return
                with self._lock:
                    self.connects.append(target)
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                with self._server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(self.timeout)
                    self._forward_one(tls)
            except (OSError, ssl.SSLError, ValueError, http.client.HTTPException):
                return

    def _forward_one(self, tls: ssl.SSLSocket) -> None:
        head = _read_head(tls)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: list[tuple[str, str]] = []
        length = 0
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip(), value.strip()
            if name.lower() == "content-length":
                length = int(value)
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                headers.append((name, value))
        body = head.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in head else b""
        while len(body) < length:
            chunk = tls.recv(min(65536, length - len(body)))
            if not chunk:
                break
            body += chunk
        with self._lock:
            self.forwarded.append(f"{method} {path.split('?', 1)[0]}")
        upstream = http.client.HTTPConnection(*self.upstream, timeout=self.timeout)
        try:
            upstream.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                upstream.putheader(name, value)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            out = [f"HTTP/1.1 {response.status} {response.reason}"]
            out += [f"{k}: {v}" for k, v in response.getheaders()
                    if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"]
            out += [f"Content-Length: {len(data)}", "Connection: close", "", ""]
            tls.sendall("\r\n".join(out).encode("latin-1") + data)
        finally:
            upstream.close()


def _read_head(sock: socket.socket) -> bytes:
    """Read until the end of the HTTP head (may include the start of the body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ValueError("connection closed before the end of the request head")
        data += chunk
        if len(data) > _MAX_HEAD:
            raise ValueError("request head too large")
    return data
