"""How a source's HTTPS certificates are checked: ``verify_tls`` and ``ca_bundle``.

    verify = tls_verify(settings, warn=True)   # True, False, or the CA bundle's path
    pin_verify(session, verify)                # session.verify = verify, and it stays so

- ``ca_bundle`` set: only the CAs in that PEM file are trusted (a private CA).
- ``verify_tls = false``: nothing is checked. Logged as a warning every time a source
  is opened (every scan), not only by check-config; urllib3's own
  InsecureRequestWarning goes through the bot's log handlers (logsetup), once per host
  per process rather than once per request.
- Neither: the system's CAs, through requests (which honours ``REQUESTS_CA_BUNDLE``).

``pin_verify``: requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace a
session's ``verify`` on every request that does not pass its own (requests issue 3829),
which would silently undo ``verify_tls = false`` and, worse, swap a source's
``ca_bundle`` for the machine's bundle. A pinned session keeps what the config says.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import requests

from csi_coach.config import SourceSettings

log = logging.getLogger(__name__)


def tls_verify(settings: SourceSettings, *, warn: bool = False) -> bool | str:
    """requests' ``verify`` for this source: the CA bundle's path, or True / False.

    ``warn``: log that certificates are not checked (say it once per opening of the
    source; the scan opens each source once).
    """
    if not settings.verify_tls:
        if warn:
            _warn_unverified(settings)
        return False
    return settings.ca_bundle or True


def _warn_unverified(settings: SourceSettings) -> None:
    log.warning("%s: verify_tls = false: the certificate of %s is not checked, so anyone on the network path "
                "could read or change what the bot sends and receives, credentials included "
                "(for a private CA, set ca_bundle instead)", settings.name, settings.url)
    from urllib3.exceptions import InsecureRequestWarning

    # urllib3 warns on every unverified request ("always"); once per host is enough
    # beside the line above. "once" keys on the text, which names the host. Adding the
    # filter again would forget which hosts were warned about, so it is added once.
    if not any(f[0] == "once" and f[2] is InsecureRequestWarning for f in warnings.filters):
        warnings.filterwarnings("once", category=InsecureRequestWarning)


def pin_verify(session: requests.Session, verify: bool | str) -> requests.Session:
    """Set ``session.verify`` and keep it when it is False or a CA bundle, whatever the environment says.

    With ``verify`` True the environment's bundle still applies, as requests intends.
    A request that passes its own ``verify`` keeps it.
    """
    session.verify = verify
    merge = session.merge_environment_settings

    def merge_keeping_verify(url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        settings = merge(url, proxies, stream, verify, cert)
        if verify is None and session.verify is not True:
            settings["verify"] = session.verify
        return settings

    setattr(session, "merge_environment_settings", merge_keeping_verify)  # noqa: B010 - an instance override
    return session
