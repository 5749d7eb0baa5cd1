"""A private certificate authority and a loopback HTTPS server for TLS tests.

    ca = make_private_ca(tmp_path)              # openssl: CA + a server cert for 127.0.0.1
    with HttpsLoopbackServer(ca) as server:     # LoopbackServer behind TLS
        server.add("/x.bin", b"data")
        server.url                              # https://127.0.0.1:<port>

The CA is trusted by nobody until a test says so (``SSL_CERT_FILE``, ``--ca-bundle``), like
the root CA of a corporate proxy that inspects HTTPS. Certificates follow the strict X.509
profile (key identifiers, critical basic constraints) so OpenSSL's strict mode accepts them.

Where no openssl command runs (Windows under Wine: Wine starts a Linux program but hands
back no usable process handle), the CAs are made beforehand on the host,
``python -m tests.standin.tls FOLDER`` (``make test-windows`` does), and found through
MAMBABOOT_TEST_CERTS.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.standin.server import LoopbackServer, _Server

HANDSHAKE_TIMEOUT_S = 10.0
PREMADE = "MAMBABOOT_TEST_CERTS"  # a folder of CAs made by this module's main
TEST_CA, OTHER_CA = "mambaboot test CA", "some other CA"  # the names the tests use
_CONFIG = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = {cn}
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


@dataclass(frozen=True)
class PrivateCA:
    """PEM files: the CA certificate (what a user would trust) and the server's pair."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def openssl() -> str | None:
    """The ``openssl`` command, or None when this machine has none."""
    return shutil.which("openssl")


def cannot_make_ca() -> str | None:
    """Why no CA can be made here, or None."""
    if openssl() is None and not os.environ.get(PREMADE):
        return f"needs the openssl command, or CAs made beforehand in {PREMADE}"
    return None


def make_private_ca(folder: Path, name: str = TEST_CA) -> PrivateCA:
    """Create a CA and a server certificate for 127.0.0.1 and localhost in ``folder`` (or
    copy the one made beforehand under that name, see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = PrivateCA(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    tool = openssl()
    if tool is None:
        made = Path(os.environ.get(PREMADE, ""), _slug(name))
        if not os.environ.get(PREMADE) or not made.is_dir():
            raise RuntimeError(f"no openssl command, and no CA {name!r} made beforehand in "
                               f"{PREMADE} ({os.environ.get(PREMADE, 'not set')})")
        for path in (ca.ca_cert, ca.server_cert, ca.server_key):
            shutil.copyfile(made / path.name, path)
        return ca
    ca_cnf, server_cnf = folder / "ca.cnf", folder / "server.cnf"
    ca_cnf.write_text(_CONFIG.format(cn=name), encoding="ascii")
    server_cnf.write_text(_CONFIG.format(cn="127.0.0.1"), encoding="ascii")
    key_args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([tool, *args], check=True, capture_output=True, cwd=folder)

    run("req", "-x509", *key_args, "-keyout", "ca.key", "-out", ca.ca_cert.name,
        "-days", "3", "-config", ca_cnf.name, "-extensions", "ca")
    run("req", "-new", *key_args, "-keyout", ca.server_key.name, "-out", "server.csr",
        "-config", server_cnf.name)
    run("x509", "-req", "-in", "server.csr", "-CA", ca.ca_cert.name, "-CAkey", "ca.key",
        "-set_serial", "2", "-days", "3", "-out", ca.server_cert.name,
        "-extfile", server_cnf.name, "-extensions", "server")
    return ca


def _slug(name: str) -> str:
    return name.replace(" ", "-")


class _TlsServer(_Server):
    """Each accepted connection does its TLS handshake in its own handler thread, so a
    client that rejects the certificate never blocks the accept loop."""

    def __init__(self, owner: LoopbackServer, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(owner)

    def finish_request(self, request: socket.socket | tuple[bytes, socket.socket],
                       client_address: tuple[str, int] | str) -> None:
        assert isinstance(request, socket.socket)
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError included: the client refused our certificate
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            with contextlib.suppress(OSError):
                tls.close()


class HttpsLoopbackServer(LoopbackServer):
    """``LoopbackServer`` (routes, mounts, faults, request log) behind TLS with ``ca``."""

    def __init__(self, ca: PrivateCA, root: Path | None = None) -> None:
        super().__init__(root)
        self.ca = ca
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(ca.server_cert, ca.server_key)

    def _make_server(self) -> _Server:
        return _TlsServer(self, self.context)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


if __name__ == "__main__":  # python -m tests.standin.tls FOLDER: the CAs the tests use
    for ca_name in (TEST_CA, OTHER_CA):
        make_private_ca(Path(sys.argv[1], _slug(ca_name)), ca_name)
