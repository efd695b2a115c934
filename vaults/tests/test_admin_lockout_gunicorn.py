"""The admin login lockout (django-axes) on the production shape: gunicorn with 2 workers, DEBUG
off, the environment of `.env.example` (HTTPS rules on, behind the TLS proxy's header), with a
short cool-off. Failed logins are counted in PostgreSQL, so both workers see every failure; a
login held half-sent pins one worker while the other serves the rest."""

import json
import re
import subprocess
import sys
import time
from datetime import datetime
from urllib.parse import urlencode

import pytest

from vaults.tests.support.admin import staff_user
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.production import production_env, serve_web
from vaults.tests.support.raw_http import ACCESS_LOG_ARGS, HeldRequest, Reply, send, workers_by_request
from vaults.tests.support.stack import ROOT

pytestmark = pytest.mark.django_db(transaction=True)  # gunicorn reads the user and the attempts

LIMIT, COOLOFF_SECONDS = 3, 6
LOGIN = "/admin/login/"
PASSWORD = "pw-for-tests-only"
WRONG = "wrong-Secret-4b1c"  # never to be found in a log
WRONG_PASSWORD_PAGE = "Please enter the correct username and password"


@pytest.fixture(scope="module")
def admin_web(collected_static, tmp_path_factory):
    log = tmp_path_factory.mktemp("admin-lockout") / "web.log"
    with serve_web(
        static_root=collected_static,
        log_path=log,
        workers=2,
        extra_args=ACCESS_LOG_ARGS,
        TRUSTED_PROXY_COUNT="0",
        ADMIN_LOGIN_FAILURE_LIMIT=str(LIMIT),
        ADMIN_LOGIN_COOLOFF_SECONDS=str(COOLOFF_SECONDS),
    ) as web:
        yield web


@pytest.fixture
def operator():
    return staff_user("ops-lockout", "vaults.view_vestinglot", password=PASSWORD)


class LoginForm:
    """The admin's login form as a browser gets it: the CSRF cookie and the form's token."""

    def __init__(self, web) -> None:
        page = send(web.base, LOGIN)
        assert page.status == 200
        self.web = web
        self.cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def post(self, username: str, password: str, *, probe: str = "", source: str = "127.0.0.1") -> HeldRequest:
        body = urlencode(
            {"csrfmiddlewaretoken": self.token, "username": username, "password": password, "next": "/admin/"}
        )
        return HeldRequest(
            self.web.base,
            f"{LOGIN}?probe={probe}" if probe else LOGIN,
            method="POST",
            headers={
                "Cookie": f"csrftoken={self.cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.web.base,  # trusted as the proxy's origin (DJANGO_CSRF_TRUSTED_ORIGINS)
            },
            body=body.encode(),
            source=source,
        )

    def login(self, username: str, password: str, **kwargs) -> Reply:
        return self.post(username, password, **kwargs).finish()


def assert_logged_in(reply: Reply) -> None:
    assert reply.status == 302 and reply.headers["Location"] == "/admin/", (reply.status, reply.text)
    assert "sessionid=" in " ".join(reply.headers.get_all("Set-Cookie") or [])


def assert_locked_out(reply: Reply) -> datetime:
    """The lockout page; returns the end it states (the same machine's clock as the test's)."""
    assert reply.status == 429, (reply.status, reply.text)
    assert "sessionid=" not in " ".join(reply.headers.get_all("Set-Cookie") or [])
    retry_after = int(reply.headers["Retry-After"])
    assert 1 <= retry_after <= COOLOFF_SECONDS + 1  # the end, rounded up to a whole second
    message = reply.text.split('id="content-main"')[1].split("</div>")[0]
    until = re.search(r"Sign-in is blocked until\s+<time datetime=\"([^\"]+)\">([0-9: -]+) UTC</time>", message)
    assert until and "even with the right password" in message, message
    assert until.group(1).endswith("+00:00") and "." not in until.group(1)  # whole seconds, in UTC
    # Nothing about why, how many attempts, or the username and password typed.
    for secret in ("ops-lockout", PASSWORD, WRONG, "127.0.0.1", "address", "username", "attempts: "):
        assert secret not in message, secret
    assert not re.search(rf"\b{LIMIT}\b\s*(failed|attempt|tries|times)", message)
    return datetime.fromisoformat(until.group(1))


def test_failures_on_both_workers_lock_out_the_right_password_until_the_cool_off_ends(admin_web, operator):
    form = LoginForm(admin_web)
    held = form.post("ops-lockout", WRONG, probe="held")  # one worker waits on it
    for n in range(LIMIT - 1):
        assert WRONG_PASSWORD_PAGE in form.login("ops-lockout", WRONG, probe=str(n)).text

    ends = assert_locked_out(held.finish())  # the last failure, on the other worker
    time.sleep(1.5)  # were a refused login to extend the lockout, its end would move by a second or more
    assert assert_locked_out(form.login("ops-lockout", PASSWORD)) == ends
    assert assert_locked_out(form.login("ops-lockout", PASSWORD, source="127.0.0.2")) == ends  # the username

    workers = wait_for(
        lambda: (log := workers_by_request(admin_web.log)).get(f"POST {LOGIN}?probe=held HTTP/1.1") and log,
        timeout=10,
        what="the access log of the held login",
    )
    others = set().union(*(workers[f"POST {LOGIN}?probe={n} HTTP/1.1"] for n in range(LIMIT - 1)))
    assert len(workers[f"POST {LOGIN}?probe=held HTTP/1.1"] | others) == 2

    time.sleep(max(0.0, ends.timestamp() - time.time() + 0.5))
    assert_logged_in(form.login("ops-lockout", PASSWORD))


def test_one_address_is_locked_out_whatever_the_username(admin_web, operator):
    form = LoginForm(admin_web)
    for n in range(LIMIT - 1):
        assert WRONG_PASSWORD_PAGE in form.login(f"nobody-{n}", WRONG).text

    assert_locked_out(form.login("nobody-else", WRONG))
    assert_locked_out(form.login("ops-lockout", PASSWORD))
    # Another address, and the username that was never guessed: not locked.
    assert_logged_in(form.login("ops-lockout", PASSWORD, source="127.0.0.2"))


def test_axes_reset_unlocks(admin_web, operator):
    form = LoginForm(admin_web)
    for _ in range(LIMIT):
        form.login("ops-lockout", WRONG)
    assert_locked_out(form.login("ops-lockout", PASSWORD))

    done = subprocess.run(
        [sys.executable, "manage.py", "axes_reset"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert_logged_in(form.login("ops-lockout", PASSWORD))


def test_failures_and_the_lockout_are_logged_with_username_and_address_never_the_password(admin_web, operator):
    start = admin_web.log.stat().st_size  # the server's log so far belongs to the other tests
    form = LoginForm(admin_web)
    for _ in range(LIMIT):
        form.login("ops-lockout", WRONG)
    form.login("ops-lockout", PASSWORD)

    def login_lines() -> list[dict]:
        with admin_web.log.open("rb") as log:
            log.seek(start)
            lines = [json.loads(line) for line in log.read().decode().splitlines() if line.startswith("{")]
        return [line for line in lines if line["event"].startswith("admin_login_")]

    lines = wait_for(lambda: len(login_lines()) >= LIMIT + 2 and login_lines(), timeout=10, what="the login log lines")
    events = sorted((line["event"], line["failures"] or 0) for line in lines)
    assert events == sorted(
        [("admin_login_failed", n) for n in range(1, LIMIT + 1)]
        + [("admin_login_locked_out", LIMIT), ("admin_login_refused_locked_out", 0)]
    )
    for line in lines:
        assert (line["username"], line["ip_address"], line["level"]) == ("ops-lockout", "127.0.0.1", "warning")
    log = admin_web.log.read_text()
    assert WRONG not in log and PASSWORD not in log
