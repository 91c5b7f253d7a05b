"""The one error tree of csi-coach.

Everything the bot raises on purpose derives from ``CoachError``. Vendor and
transport failures are converted into these at the connector boundary, so the
scan, the CLI and the tests only ever handle this tree.

    CoachError
    ├── ConfigError            bad config, rules or template file (exit 2)
    │   ├── ConfigErrors       several of them, found in one reading, listed together
    │   └── FailingExamples    rules whose own examples fail (scan, run; exit 2)
    ├── RemoteError            a ticketing system answered with a failure
    │   ├── AuthError          401: credentials missing, wrong or expired
    │   ├── PermissionDenied   403: the account may not do this
    │   ├── NotFound           404: table, issue or comment does not exist
    │   ├── Gone               410: the endpoint was removed (e.g. Jira Cloud /search)
    │   ├── BadRequest         400: the system refused the request as malformed
    │   ├── RateLimited        429 that outlasted the retry budget
    │   ├── EndlessListing     paging that would never end (a page, token or nothing new again)
    │   ├── RedirectRefused    a redirect to another scheme, host or port (never followed)
    │   ├── CertificateFailed  the server's TLS certificate did not verify (never retried)
    │   ├── AnswerTooLarge     a response body over the source's max_response_bytes
    │   └── TransientError     5xx / connection failure that outlasted retries, a request
    │       │                  past its deadline, a body that cannot be decoded
    │       └── AmbiguousWrite a write that may or may not have landed
    ├── StateError             the state file cannot be opened, is read-only, or is newer
    └── LockBusy               another scan holds the state lock

A record the bot cannot read is not an error here: connectors yield a
``model.BrokenRecord`` for it, so one odd ticket never stops a scan.
"""

from __future__ import annotations


class CoachError(Exception):
    """Base of every error csi-coach raises on purpose."""


class ConfigError(CoachError):
    """A config, rules or template file is wrong.

    Always names the file, the TOML key path and what was expected, so the
    admin can fix it without reading code. ``line`` is given where known.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        expected: str | None = None,
        got: object = None,
        has_got: bool = False,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.suggestion = suggestion
        self.file = file
        self.key = key
        self.line = line
        self.expected = expected
        self.got = got
        self.has_got = has_got
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.key:
            parts.append(f"[{self.key}]")
        text = " ".join(parts) + f": {self.message}"
        if self.has_got:
            text += f" (got {self.got!r})"
        if self.suggestion:
            text += f"; did you mean {self.suggestion!r}?"
        if self.expected:
            text += (" expected " if self.suggestion else "; expected ") + self.expected
        return text

    @property
    def errors(self) -> tuple[ConfigError, ...]:
        """The errors this one stands for: itself (``ConfigErrors``: each of them)."""
        return (self,)


class ConfigErrors(ConfigError):
    """Every error found in one reading of the config and rules files, so the admin fixes
    them in one pass. ``str()`` is one line per error, in file and line order; the first
    one's fields (file, key, line...) are this error's, so a caller reading them still works.
    """

    def __init__(self, errors: list[ConfigError] | tuple[ConfigError, ...]) -> None:
        flat = [e for err in errors for e in err.errors]
        if not flat:
            raise ValueError("ConfigErrors needs at least one error")
        self._errors = tuple(flat)
        first = flat[0]
        super().__init__(first.message, file=first.file, key=first.key, line=first.line, expected=first.expected,
                         got=first.got, has_got=first.has_got, suggestion=first.suggestion)

    @property
    def errors(self) -> tuple[ConfigError, ...]:
        return self._errors

    def __str__(self) -> str:
        return "\n".join(ConfigError.__str__(e) for e in self._errors)


class FailingExamples(ConfigError):
    """Rule examples that fail: scan and run do not run the rule set (exit 2) without
    ``--allow-failing-examples``. ``failures`` are the located lines of rules.run_examples."""

    ALLOW_FLAG = "--allow-failing-examples"

    def __init__(self, failures: list[str]) -> None:
        self.failures = tuple(failures)
        count = len(failures)
        super().__init__(
            f"{count} rule example{'s' if count != 1 else ''} fail{'s' if count == 1 else ''}, so the rules "
            f"would not judge as their examples say: fix the rule or the example (check-config shows them), or "
            f"run with {self.ALLOW_FLAG}",
        )

    def __str__(self) -> str:
        return "\n".join([*self.failures, self.message])

    @property
    def errors(self) -> tuple[ConfigError, ...]:
        # One line each, as bot.py prints several errors: every failing example (it names
        # its own file and line), then what to do.
        return tuple(_Line(text) for text in (*self.failures, self.message))


class _Line(ConfigError):
    """One line of text that is already located: printed as it is."""

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:
        return self.text


def combine(errors: list[ConfigError]) -> ConfigError | None:
    """None for no error, the error itself for one (its message unchanged), else all of them,
    ordered by file then line (the order a person reads the files in)."""
    flat = [e for err in errors for e in err.errors]
    unique: list[ConfigError] = []
    for e in flat:  # one mistake reached twice (a key read by two checks) is said once
        if all(str(e) != str(u) for u in unique):
            unique.append(e)
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    files = list(dict.fromkeys(e.file or "" for e in unique))
    unique.sort(key=lambda e: (files.index(e.file or ""), e.line if e.line is not None else 10**9))
    return ConfigErrors(unique)


class RemoteError(CoachError):
    """A ticketing system answered with a failure.

    ``message`` is the vendor's own explanation where it gave one (ServiceNow's
    ``error.message``/``error.detail``, Jira's ``errorMessages``), never a
    secret and never the request's auth headers.
    """

    def __init__(
        self, message: str, *, status: int | None = None, url: str | None = None
    ) -> None:
        self.message = message
        self.status = status
        self.url = url
        super().__init__(self.__str__())

    def __str__(self) -> str:
        head = f"HTTP {self.status}" if self.status is not None else "request failed"
        if self.url:
            head += f" from {self.url}"
        return f"{head}: {self.message}"


class AuthError(RemoteError):
    """401: credentials are missing, wrong or expired."""


class PermissionDenied(RemoteError):
    """403: the account is known but may not do this."""


class NotFound(RemoteError):
    """404: the table, issue, record or comment does not exist."""


class Gone(RemoteError):
    """410: the endpoint was removed by the vendor."""


class BadRequest(RemoteError):
    """400: the system refused the request as malformed."""


class RateLimited(RemoteError):
    """429 that outlasted the retry budget. ``retry_after`` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        url: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, url=url)


class EndlessListing(RemoteError):
    """A paged listing that would never end: the server answered a page, token or offset it
    had sent before, a page of records already read while saying more follow, or more pages
    than the listing can need (the source's ``max_pages``, or the server's own count). The
    source fails, is read again next scan, and the scan moves on to the other sources."""


class RedirectRefused(RemoteError):
    """The server redirected to another scheme, host or port. Not followed: the source's
    credentials (auth headers, an OAuth token request's body) go to its own origin only."""


class CertificateFailed(RemoteError):
    """The server's TLS certificate did not verify. Not retried: waiting does not fix it."""


class AnswerTooLarge(RemoteError):
    """A response body is larger than the source's ``max_response_bytes``; the rest is not read."""


class TransientError(RemoteError):
    """5xx or a connection failure that outlasted the retries; try next scan."""


class AmbiguousWrite(TransientError):
    """A write was sent but its outcome is unknown (timeout or reset after sending).

    The caller must look for the bot's marker on the ticket before writing again.
    """


class StateError(CoachError):
    """The state file cannot be opened, is read-only (dry run), or is from a newer csi-coach."""


class LockBusy(CoachError):
    """Another scan holds the state lock."""
