"""The ServiceNow connector opened on a loopback sandbox, with each auth method's secrets."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

from csi_coach.config import AuthSettings, ServiceNowSettings
from csi_coach.connectors import open_connector
from csi_coach.connectors.transport import Limiters, RetryPolicy

FAST = RetryPolicy(attempts=6, backoff_base=0.01, backoff_cap=0.05, max_wait=30)
ENV = {
    "E2E_SN_USER": "csi-coach",
    "E2E_SN_PASSWORD": "sandbox-snow-password",
    "E2E_SN_CLIENT_ID": "csi-coach-client",
    "E2E_SN_CLIENT_SECRET": "sandbox-snow-client-secret",
    "E2E_SN_API_KEY": "sandbox-snow-api-key",
}
AUTH = {
    "basic": AuthSettings(method="basic", username_env="E2E_SN_USER", password_env="E2E_SN_PASSWORD"),
    "oauth_password": AuthSettings(method="oauth_password", username_env="E2E_SN_USER", password_env="E2E_SN_PASSWORD",
                                   client_id_env="E2E_SN_CLIENT_ID", client_secret_env="E2E_SN_CLIENT_SECRET"),
    "oauth_client_credentials": AuthSettings(method="oauth_client_credentials", client_id_env="E2E_SN_CLIENT_ID",
                                             client_secret_env="E2E_SN_CLIENT_SECRET"),
    "api_key": AuthSettings(method="api_key", api_key_env="E2E_SN_API_KEY"),
}


def stats(snow) -> dict:
    with urllib.request.urlopen(snow.url + "/_sandbox/stats") as resp:
        return json.load(resp)["requests"]


def open_for(snow, method="basic", **changes):
    s = replace(ServiceNowSettings(name="snow", url=snow.url, auth=AUTH[method], timeout_seconds=10), **changes)
    return open_connector(s, limiters=Limiters(), policy=FAST)
