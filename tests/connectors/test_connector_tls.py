"""connectors/tls.py: what ``verify`` a source's session gets, and that it keeps it."""

from __future__ import annotations

import logging
import warnings

import pytest
import requests
from urllib3.exceptions import InsecureRequestWarning

from csi_coach.config import AuthSettings, JiraSettings, ServiceNowSettings
from csi_coach.connectors.tls import pin_verify, tls_verify

AUTH = AuthSettings(method="basic", username_env="U", password_env="P")
URL = "https://example.service-now.com/api/now/table/x"


def snow(**kw) -> ServiceNowSettings:
    return ServiceNowSettings(name="snow", url="https://example.service-now.com", auth=AUTH, **kw)


def test_the_verify_value_for_each_setting():
    assert tls_verify(snow()) is True
    assert tls_verify(snow(ca_bundle="/etc/ca.pem")) == "/etc/ca.pem"
    assert tls_verify(snow(verify_tls=False)) is False
    jira = JiraSettings(name="j", url="https://j.example.com", auth=AuthSettings(method="pat", token_env="T"),
                        ca_bundle="/etc/j.pem")
    assert tls_verify(jira) == "/etc/j.pem"


def test_unverified_is_a_warning_each_time_it_is_asked_to_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="csi_coach.connectors.tls"):
        tls_verify(snow(verify_tls=False))  # not asked to warn: the jira client's second look
        tls_verify(snow(verify_tls=False), warn=True)
        tls_verify(snow(verify_tls=False), warn=True)
        tls_verify(snow(), warn=True)  # verified: nothing to say
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert all("snow: verify_tls = false" in r.getMessage() and "https://example.service-now.com" in r.getMessage()
               for r in caplog.records)


def test_urllib3s_warning_is_filtered_to_once_and_the_filter_added_once():
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as urllib3 sets it
        tls_verify(snow(verify_tls=False), warn=True)
        tls_verify(snow(verify_tls=False), warn=True)
        once = [f for f in warnings.filters if f[0] == "once" and f[2] is InsecureRequestWarning]
        assert len(once) == 1 and warnings.filters.index(once[0]) == 0
        with warnings.catch_warnings(record=True) as seen:
            warnings.filters[:] = [once[0]]  # only ours, so the test sees what it does
            for _ in range(3):
                warnings.warn("Unverified HTTPS request is being made to host 'a'", InsecureRequestWarning, stacklevel=1)
            warnings.warn("Unverified HTTPS request is being made to host 'b'", InsecureRequestWarning, stacklevel=1)
    assert [str(w.message)[-3:] for w in seen] == ["'a'", "'b'"]


@pytest.mark.parametrize("verify", [False, "/etc/private-ca.pem"])
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_environment_cannot_replace_a_pinned_verify(monkeypatch, verify, variable):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, "/machine/bundle.pem")
    plain = requests.Session()
    plain.verify = verify
    assert plain.merge_environment_settings(URL, {}, None, None, None)["verify"] == "/machine/bundle.pem"  # the bug
    pinned = pin_verify(requests.Session(), verify)
    assert pinned.verify == verify
    assert pinned.merge_environment_settings(URL, {}, None, None, None)["verify"] == verify
    assert pinned.merge_environment_settings(URL, {}, None, "/asked.pem", None)["verify"] == "/asked.pem"


def test_with_the_systems_cas_the_environments_bundle_still_applies(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/machine/bundle.pem")
    pinned = pin_verify(requests.Session(), True)
    assert pinned.merge_environment_settings(URL, {}, None, None, None)["verify"] == "/machine/bundle.pem"
