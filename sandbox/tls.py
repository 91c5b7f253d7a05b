"""HTTPS for the sandbox: a throwaway local certificate authority, made with ``trustme``.

    ca = SandboxCA.create()                 # a new CA, and one server certificate for loopback
    server.use_tls(ca.server_context())     # before server.start(): it then serves https://
    ca.ca_file                              # the CA certificate (PEM): a client's ``verify`` / ``ca_bundle``
    ca.close()                              # removes the file, when the CA chose where it went

Every start makes a new CA, so nothing the sandbox ever trusted outlives it. The CA's
private key stays in memory; only its certificate is written out, for the clients.
The server certificate names every loopback spelling (127.0.0.1, ::1, localhost),
the only addresses the sandbox serves on.

``trustme`` (and the ``cryptography`` wheel under it) is the optional ``sandbox``
extra: the bot never needs it. ``tls_available()`` says whether it is installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any

from csi_coach.errors import CoachError

LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
CA_FILE_NAME = "sandbox-ca.pem"
MISSING = ("the HTTPS sandbox needs the trustme package, which is not installed: "
           "pip install 'csi-coach[sandbox]' (./dev installs it)")


def tls_available() -> bool:
    """Whether ``trustme`` is installed (the ``sandbox`` extra)."""
    return importlib.util.find_spec("trustme") is not None


class SandboxCA:
    """A throwaway CA, its certificate written to ``ca_file``, and one loopback server certificate."""

    def __init__(self, ca: Any, server_cert: Any, ca_file: Path, own_folder: Path | None) -> None:
        self._ca = ca
        self._server_cert = server_cert
        self.ca_file = ca_file
        self._own_folder = own_folder  # a folder this object made, removed by close()

    @classmethod
    def create(cls, ca_file: str | Path | None = None) -> SandboxCA:
        """A new CA. ``ca_file``: where to write its certificate (its folder is created);
        None: a new temporary folder, removed by ``close()``."""
        try:
            import trustme
        except ImportError:
            raise CoachError(MISSING) from None
        ca = trustme.CA(organization_name="csi-coach sandbox (throwaway)")
        server_cert = ca.issue_cert(*LOOPBACK_NAMES)
        own_folder = None
        if ca_file is None:
            own_folder = Path(tempfile.mkdtemp(prefix="csi-coach-sandbox-ca-"))
            path = own_folder / CA_FILE_NAME
        else:
            path = Path(ca_file).expanduser().absolute()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CoachError(f"cannot create the folder for the CA file {path}: {exc.strerror or exc}") from None
        try:
            ca.cert_pem.write_to_path(str(path))
        except OSError as exc:
            if own_folder is not None:
                shutil.rmtree(own_folder, ignore_errors=True)
            raise CoachError(f"cannot write the sandbox's CA certificate to {path}: {exc.strerror or exc}") from None
        return cls(ca, server_cert, path, own_folder)

    def server_context(self) -> ssl.SSLContext:
        """A server-side context presenting the loopback certificate (TLS 1.2 or newer)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._server_cert.configure_cert(context)
        return context

    def close(self) -> None:
        """Remove the CA file's folder when this object made it; a file asked for stays."""
        if self._own_folder is not None:
            shutil.rmtree(self._own_folder, ignore_errors=True)
            self._own_folder = None
