"""Faults as they reach a Redmine client: what sits in front of Redmine answers, not Redmine.

The common faults (tests/standin/faults.py: failures for a number of calls, outages for a
while, slow or late answers) plus `page`, what the answer's body is:
- none: the status with the HTML error page nginx writes (a 503 or 429 carries Retry-After
  when the fault gives one);
- "login": an HTML sign-in page with 200 (default status), as when a single sign-on proxy or
  a Redmine that lost its API setting answers instead of the REST API;
- "proxy": nginx's 502 Bad Gateway page (default status 502), Redmine behind it being down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.standin.faults import Fault
from tests.standin.faults import new_fault as _common

PAGES = ("login", "proxy")
REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>Redmine</title>
</head>
<body class="controller-account action-login">
<div id="login-form">
  <form action="/login" accept-charset="UTF-8" method="post">
    <input type="hidden" name="authenticity_token" value="stand-in" />
    <label for="username">Login</label><input type="text" name="username" id="username" />
    <label for="password">Password</label><input type="password" name="password" id="password" />
    <input type="submit" name="login" value="Login" id="login-submit" />
  </form>
</div>
</body>
</html>
"""


@dataclass
class RedmineFault(Fault):
    page: str | None = None


def new_fault(data: dict[str, Any]) -> RedmineFault:
    """A fault as a control call or a seed describes it (TypeError for unknown keys)."""
    data = dict(data)
    page = data.pop("page", None)
    if page is not None and page not in PAGES:
        raise ValueError(f"page must be one of {PAGES}, not {page!r}")
    if page and data.get("status") is None:
        data["status"] = 200 if page == "login" else 502
    common = _common(data)
    return RedmineFault(**vars(common), page=page)


def fault_page(fault: RedmineFault) -> tuple[int, str, dict[str, str]]:
    """The answer a fault gives: status, HTML body, headers."""
    status = fault.status or 503
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if fault.page == "login":
        return status, LOGIN_PAGE, headers
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    title = f"{status} {REASONS.get(status, 'Error')}"
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return status, body, headers
