"""connectors.transport: retries, the shared per-host rate limiter, error mapping.

Every wait goes through an injected fake clock, so nothing here sleeps and the
assertions are about what the adapter asked to wait, never wall time.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from csi_coach.connectors.transport import (
    HostLimiter,
    Limiters,
    ResilientAdapter,
    RetryPolicy,
    build_session,
    never_sent,
    raise_for_status,
    wait_from_headers,
)
from csi_coach.errors import (
    AmbiguousWrite,
    AuthError,
    BadRequest,
    Gone,
    NotFound,
    PermissionDenied,
    RateLimited,
    RemoteError,
    TransientError,
)
from support.servicenow import FakeTime, load

BASE = "https://acme.service-now.com"
URL = f"{BASE}/api/now/table/sn_cim_register"



@pytest.fixture
def clock():
    return FakeTime()


def session_for(clock: FakeTime, policy: RetryPolicy | None = None, limiters: Limiters | None = None):
    limiters = limiters or Limiters(clock=clock.monotonic, wall=clock.time)
    return build_session(BASE, policy=policy or RetryPolicy(), limiters=limiters, sleep=clock.sleep,
                         rng=random.Random(1)), limiters


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, URL, reason))


def reset() -> requests.ConnectionError:
    return requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer")))


# --------------------------------------------------------------------------- policy and headers


def test_backoff_is_full_jitter_within_exponential_ceiling():
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=30.0)
    rng = random.Random(3)
    for retry in range(10):
        ceiling = min(30.0, 0.5 * 2**retry)
        values = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= v <= ceiling for v in values)
        assert max(values) > ceiling * 0.8  # really spread over the range, not a constant


def test_retry_after_seconds_and_http_date():
    now = 1_772_000_000.0
    assert wait_from_headers({"Retry-After": "30"}, status=429, now=now) == 30
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert wait_from_headers({"Retry-After": date}, status=429, now=now) == pytest.approx(90, abs=1)
    past = email.utils.formatdate(now - 90, usegmt=True)
    assert wait_from_headers({"Retry-After": past}, status=429, now=now) == 0


def test_ratelimit_reset_epoch_delta_and_iso():
    now = 1_772_000_000.0
    assert wait_from_headers({"X-RateLimit-Reset": str(int(now) + 120)}, status=429, now=now) == 120
    assert wait_from_headers({"X-RateLimit-Reset": "45"}, status=429, now=now) == 45
    iso = "2026-02-25T06:15Z"  # Atlassian's form
    expected = 1772000100.0 - now  # 2026-02-25T06:15:00Z
    assert wait_from_headers({"X-RateLimit-Reset": iso}, status=429, now=now) == pytest.approx(expected, abs=1)


def test_retry_after_wins_over_reset():
    now = 1_772_000_000.0
    headers = {"Retry-After": "5", "X-RateLimit-Reset": str(int(now) + 3000)}
    assert wait_from_headers(headers, status=429, now=now) == 5


def test_reset_on_a_successful_response_is_not_a_reason_to_wait():
    # ServiceNow sends X-RateLimit-Reset on every response that matched a rule.
    now = 1_772_000_000.0
    headers = {"X-RateLimit-Limit": "1000", "X-RateLimit-Reset": str(int(now) + 1800), "X-RateLimit-Rule": "abc"}
    assert wait_from_headers(headers, status=200, now=now) is None
    headers["X-RateLimit-Remaining"] = "0"
    assert wait_from_headers(headers, status=200, now=now) == 1800


def test_garbage_headers_are_ignored():
    assert wait_from_headers({"Retry-After": "soon"}, status=429, now=0) is None
    assert wait_from_headers({"X-RateLimit-Reset": "nan"}, status=429, now=0) is None
    assert wait_from_headers({}, status=429, now=0) is None


# --------------------------------------------------------------------------- limiter


def test_limiter_gate_holds_until_deferred_time(clock):
    limiter = HostLimiter("h:443", clock=clock.monotonic, wall=clock.time)
    assert limiter.wait(clock.sleep) == 0
    limiter.defer(30)
    limiter.defer(10)  # never shortens
    assert limiter.remaining() == 30
    assert limiter.wait(clock.sleep) == 30
    assert clock.now == 30 and limiter.remaining() == 0


def test_limiter_refuses_to_wait_past_its_budget(clock):
    limiter = HostLimiter("h:443", clock=clock.monotonic, wall=clock.time)
    limiter.defer(3600)
    with pytest.raises(RateLimited) as exc:
        limiter.wait(clock.sleep, limit=900)
    assert exc.value.retry_after == 3600
    assert clock.slept == []


def test_limiters_one_per_host_and_port():
    limiters = Limiters()
    a = limiters.for_url("https://acme.service-now.com/api/now/table/x")
    assert limiters.for_url("https://ACME.service-now.com/oauth_token.do") is a
    assert limiters.for_url("https://acme.service-now.com:8443/") is not a
    assert limiters.for_url("https://other.example/") is not a


# --------------------------------------------------------------------------- idempotent requests


def test_get_retries_5xx_with_backoff_then_succeeds(rsps, clock):
    session, _ = session_for(clock)
    for status in (500, 502, 503, 504):
        rsps.add(responses.GET, URL, status=status)
    rsps.add(responses.GET, URL, json={"result": []})
    resp = session.get(URL)
    assert resp.status_code == 200
    assert len(rsps.calls) == 5
    ceilings = [0.5, 1.0, 2.0, 4.0]
    assert len(clock.slept) == 4
    assert all(0 <= s <= c for s, c in zip(clock.slept, ceilings))


def test_get_gives_back_the_last_5xx_after_the_attempts(rsps, clock):
    session, _ = session_for(clock, RetryPolicy(attempts=3))
    for _ in range(3):
        rsps.add(responses.GET, URL, status=500, json=load("error_401.json") | {"error": {"message": "boom"}})
    resp = session.get(URL)
    assert resp.status_code == 500 and len(rsps.calls) == 3
    with pytest.raises(TransientError):
        raise_for_status(resp, "read")


def test_get_retries_connection_reset_and_refused(rsps, clock):
    session, _ = session_for(clock)
    rsps.add(responses.GET, URL, body=reset())
    rsps.add(responses.GET, URL, body=refused())
    rsps.add(responses.GET, URL, body=requests.ReadTimeout("read timed out"))
    rsps.add(responses.GET, URL, json={"result": []})
    assert session.get(URL).status_code == 200
    assert len(rsps.calls) == 4


def test_get_connection_errors_outlasting_the_attempts_raise_transient(rsps, clock):
    session, _ = session_for(clock, RetryPolicy(attempts=2))
    rsps.add(responses.GET, URL, body=reset())
    rsps.add(responses.GET, URL, body=reset())
    with pytest.raises(TransientError) as exc:
        session.get(URL)
    assert not isinstance(exc.value, AmbiguousWrite)
    assert "2 tries" in str(exc.value)


def test_4xx_is_not_retried(rsps, clock):
    session, _ = session_for(clock)
    rsps.add(responses.GET, URL, status=404, json=load("error_404_table.json"))
    assert session.get(URL).status_code == 404
    assert len(rsps.calls) == 1 and clock.slept == []


# --------------------------------------------------------------------------- writes


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_write_is_not_retried_on_500(rsps, clock, method):
    session, _ = session_for(clock)
    rsps.add(method, URL, status=500)
    assert session.request(method, URL, json={"work_notes": "x"}).status_code == 500
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_write_is_retried_on_503_and_refused_connection(rsps, clock, method):
    session, _ = session_for(clock)
    rsps.add(method, URL, status=503)
    rsps.add(method, URL, body=refused())
    rsps.add(method, URL, body=requests.ConnectTimeout("connect timed out"))
    rsps.add(method, URL, json={"result": {}})
    assert session.request(method, URL, json={"work_notes": "x"}).status_code == 200
    assert len(rsps.calls) == 4


@pytest.mark.parametrize("failure", [reset, lambda: requests.ReadTimeout("read timed out")])
def test_write_after_sending_is_ambiguous_and_not_retried(rsps, clock, failure):
    session, _ = session_for(clock)
    rsps.add(responses.PATCH, URL, body=failure())
    with pytest.raises(AmbiguousWrite):
        session.patch(URL, json={"work_notes": "x"})
    assert len(rsps.calls) == 1


def test_put_counts_as_idempotent(rsps, clock):
    session, _ = session_for(clock)
    rsps.add(responses.PUT, URL, body=reset())
    rsps.add(responses.PUT, URL, json={})
    assert session.put(URL, json={}).status_code == 200


def test_never_sent_classification():
    assert never_sent(refused())
    assert never_sent(requests.ConnectTimeout("x"))
    assert not never_sent(reset())
    assert not never_sent(requests.ReadTimeout("x"))


# --------------------------------------------------------------------------- 429


def test_429_waits_retry_after_in_full(rsps, clock):
    session, _ = session_for(clock)
    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "120"}, json=load("error_429.json"))
    rsps.add(responses.GET, URL, json={"result": []})
    assert session.get(URL).status_code == 200
    assert clock.slept == [120]


def test_429_waits_until_x_ratelimit_reset(rsps, clock):
    session, _ = session_for(clock)
    reset_at = int(clock.time()) + 75
    rsps.add(responses.GET, URL, status=429, headers={"X-RateLimit-Reset": str(reset_at), "X-RateLimit-Limit": "1000"})
    rsps.add(responses.GET, URL, json={"result": []})
    assert session.get(URL).status_code == 200
    assert clock.slept == [75]


def test_429_without_headers_backs_off_and_escalates(rsps, clock):
    session, _ = session_for(clock)
    for _ in range(3):
        rsps.add(responses.GET, URL, status=429)
    rsps.add(responses.GET, URL, json={"result": []})
    assert session.get(URL).status_code == 200
    assert len(clock.slept) == 3
    assert all(s >= 0.5 for s in clock.slept)  # never spins


def test_429_with_retry_after_zero_still_waits_a_little(rsps, clock):
    session, _ = session_for(clock, RetryPolicy(max_wait=2))
    for _ in range(10):
        rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "0"})
    resp = session.get(URL)  # bounded: 0.5 s floor per try, 2 s budget
    assert resp.status_code == 429
    assert clock.slept == [0.5, 0.5, 0.5, 0.5]
    assert len(rsps.calls) == 5
    rsps.assert_all_requests_are_fired = False


def test_429_beyond_max_wait_is_handed_back_for_rate_limited(rsps, clock):
    session, _ = session_for(clock, RetryPolicy(max_wait=900))
    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "3600"}, json=load("error_429.json"))
    resp = session.get(URL)
    assert resp.status_code == 429 and clock.slept == []
    with pytest.raises(RateLimited) as exc:
        raise_for_status(resp, "read sn_cim_register")
    assert exc.value.retry_after == 3600
    assert "Rate limit exceeded" in str(exc.value)


def test_a_far_gate_fails_fast_for_the_next_request(rsps, clock):
    session, limiters = session_for(clock, RetryPolicy(max_wait=900))
    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "3600"})
    session.get(URL)
    with pytest.raises(RateLimited):
        session.get(URL)  # not sent at all: the host asked for an hour
    assert len(rsps.calls) == 1


def test_429_waits_add_up_to_max_wait(rsps, clock):
    session, _ = session_for(clock, RetryPolicy(max_wait=100))
    for _ in range(3):
        rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "40"})
    resp = session.get(URL)
    assert resp.status_code == 429
    assert clock.slept == [40, 40]  # the third 40 s would pass 100


def test_write_429_is_retried(rsps, clock):
    session, _ = session_for(clock)
    rsps.add(responses.PATCH, URL, status=429, headers={"Retry-After": "3"})
    rsps.add(responses.PATCH, URL, json={"result": {}})
    assert session.patch(URL, json={}).status_code == 200
    assert clock.slept == [3]


def test_shared_limiter_holds_every_worker(rsps, clock):
    """Worker A gets a 429; worker B, on another thread and session, waits too."""
    limiters = Limiters(clock=clock.monotonic, wall=clock.time)
    session_a, _ = session_for(clock, limiters=limiters)
    session_b, _ = session_for(clock, limiters=limiters)
    sent_at: list[tuple[str, float]] = []

    def record(request):
        sent_at.append((threading.current_thread().name, clock.monotonic()))
        return (200, {}, '{"result": []}')

    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "30"})
    rsps.add_callback(responses.GET, URL, callback=record)
    gate_closed = threading.Event()
    b_done = threading.Event()

    def worker_a():
        original = clock.sleep

        def sleep_after_b(seconds):  # A only sleeps once B has queued behind the gate
            gate_closed.set()
            b_done.wait(5)
            original(seconds)

        session_a.get_adapter(URL).sleep = sleep_after_b
        session_a.get(URL)

    def worker_b():
        gate_closed.wait(5)
        session_b.get(URL)
        b_done.set()

    ta = threading.Thread(target=worker_a, name="A")
    tb = threading.Thread(target=worker_b, name="B")
    ta.start(); tb.start()
    ta.join(10); tb.join(10)
    assert [name for name, _ in sent_at] == ["B", "A"]
    assert all(t >= 30 for _, t in sent_at)  # nobody went before the gate opened
    assert ("B", 30) in clock.sleeps  # B waited the whole 30 s without a 429 of its own
    assert len(rsps.calls) == 3


# --------------------------------------------------------------------------- errors and session


@pytest.mark.parametrize(
    "status,fixture,cls",
    [
        (400, "error_400.json", BadRequest),
        (401, "error_401.json", AuthError),
        (403, "error_403.json", PermissionDenied),
        (404, "error_404_table.json", NotFound),
        (410, None, Gone),
        (429, "error_429.json", RateLimited),
        (500, None, TransientError),
        (418, None, RemoteError),
    ],
)
def test_raise_for_status_maps_to_the_error_tree(rsps, clock, status, fixture, cls):
    session, _ = session_for(clock, RetryPolicy(attempts=1, max_wait=0))
    rsps.add(responses.GET, URL + "?sysparm_limit=1", status=status, json=load(fixture) if fixture else None)
    resp = session.get(URL, params={"sysparm_limit": 1})
    with pytest.raises(cls) as exc:
        raise_for_status(resp, "read sn_cim_register", hints={403: "needs role x"})
    assert type(exc.value) is cls
    assert exc.value.status == status
    assert exc.value.url == URL  # no query string in errors
    if fixture:
        said = load(fixture)["error"]["message"]
        assert said in str(exc.value)
    if status == 403:
        assert "needs role x" in str(exc.value)


def test_raise_for_status_passes_success(rsps, clock):
    session, _ = session_for(clock)
    rsps.add(responses.GET, URL, json={"result": []})
    raise_for_status(session.get(URL), "read")


def test_build_session_mounts_the_adapter_everywhere():
    session = build_session(BASE, policy=RetryPolicy(), limiters=Limiters(), verify=False, user_agent="ua/1")
    assert isinstance(session.get_adapter(URL), ResilientAdapter)
    assert isinstance(session.get_adapter("http://127.0.0.1:8801/x"), ResilientAdapter)
    assert session.verify is False and session.headers["User-Agent"] == "ua/1"


def test_default_timeout_is_applied(clock):
    seen = {}

    class Probe(ResilientAdapter):
        pass

    adapter = Probe(RetryPolicy(), Limiters(), default_timeout=12.5)

    def fake_send(self, request, **kw):
        seen.update(kw)
        r = requests.Response()
        r.status_code = 200
        r._content = b"{}"
        r.url = request.url
        return r

    from unittest import mock

    with mock.patch("requests.adapters.HTTPAdapter.send", fake_send):
        s = requests.Session()
        s.mount("https://", adapter)
        s.get(URL)
    assert seen["timeout"] == 12.5


def test_nothing_secret_is_logged(rsps, clock, caplog):
    secret = "Pw-S3cr3t-transport-77"
    session, _ = session_for(clock)
    session.auth = ("csi-coach", secret)
    rsps.add(responses.GET, URL, status=503)
    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "1"})
    rsps.add(responses.GET, URL, json={"result": []})
    rsps.add(responses.PATCH, URL, body=reset())
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    session.get(URL)
    with pytest.raises(AmbiguousWrite) as exc:
        session.patch(URL, json={"work_notes": "x"})
    import base64

    encoded = base64.b64encode(f"csi-coach:{secret}".encode()).decode()
    assert caplog.records  # the retries were logged
    for rec in caplog.records:
        text = rec.getMessage()
        assert secret not in text and encoded not in text
    assert secret not in str(exc.value) and encoded not in str(exc.value)
