"""Shared fixtures for end-to-end tests: the linkgate binary and an isolated AWS env."""

import os
import sys
import shutil
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import pytest

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


@pytest.fixture(scope="session")
def linkgate_bin():
    path = os.environ.get("LINKGATE_BIN")
    if not path:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = os.path.join(root, "target", "debug", "linkgate")
    assert os.path.exists(path), f"build linkgate first: {path}"
    return path


@pytest.fixture()
def aws_env():
    """An environment with fixed credentials and an empty HOME, so nothing leaks in."""
    home = tempfile.mkdtemp(prefix="linkgate-e2e-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=home,
        AWS_ACCESS_KEY_ID=AK,
        AWS_SECRET_ACCESS_KEY=SK,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.path.join(home, "config"),
        AWS_SHARED_CREDENTIALS_FILE=os.path.join(home, "credentials"),
    )
    return env


@pytest.fixture()
def run(linkgate_bin, aws_env):
    def _run(*args, env=None, check=True):
        proc = subprocess.run([linkgate_bin, *args], env=env or aws_env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"linkgate {args} failed ({proc.returncode}): {proc.stderr}")
        return proc

    return _run


# ---------------------------------------------------------------------------
# A real `linkgate serve` process, for the server end-to-end tests.

LISTEN_PREFIX = "linkgate listening on "


class LinkgateServer:
    """One `linkgate serve` on 127.0.0.1:0 with its own data dir.

    `url` is the endpoint, `banner` the stderr lines printed before the listening
    line (e.g. generated root credentials); the rest of stderr goes to `log_path`.
    """

    def __init__(self, linkgate_bin, data_dir, env, log_path, timeout=30):
        self.data_dir = data_dir
        self.log_path = log_path
        self.banner = []
        self.proc = subprocess.Popen(
            [linkgate_bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace",
        )
        found = threading.Event()
        self.url = None

        def pump():
            with open(log_path, "a") as log:
                for line in self.proc.stderr:
                    log.write(line)
                    log.flush()
                    if not found.is_set():
                        if line.startswith(LISTEN_PREFIX):
                            self.url = line[len(LISTEN_PREFIX):].strip()
                            found.set()
                        else:
                            self.banner.append(line.rstrip("\n"))

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(log_path) as f:
                    raise AssertionError(f"linkgate serve did not start (rc={self.proc.returncode}):\n{f.read()}")

    @property
    def port(self):
        return int(self.url.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._pump.join(timeout=5)


def server_env(**extra):
    """The environment for `linkgate serve`: no AWS_* or LINKGATE_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LINKGATE_"))}
    env.update(extra)
    return env


@pytest.fixture()
def start_server(linkgate_bin):
    """Factory: start_server(data_dir=None, env=None) -> LinkgateServer; all stopped at teardown.

    Data dirs it creates are removed at teardown; passing the same data_dir twice
    restarts on the same data."""
    servers, dirs = [], []

    def _start(data_dir=None, env=None):
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix="linkgate-e2e-data-")
            dirs.append(data_dir)
        log_path = data_dir.rstrip("/") + ".log"
        srv = LinkgateServer(linkgate_bin, data_dir, env if env is not None else server_env(), log_path)
        servers.append(srv)
        return srv

    yield _start
    for srv in servers:
        srv.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
        try:
            os.remove(d.rstrip("/") + ".log")
        except FileNotFoundError:
            pass


@pytest.fixture(scope="module")
def server(linkgate_bin, request):
    """A server per test module, root credentials AK/SK, in its own temp data dir.

    A module may set `LINKGATE_SERVER_ENV = {"LINKGATE_…": "…"}` for extra server
    environment variables (none by default).
    On failure, its stderr is in `server.log_path` (kept if LINKGATE_E2E_KEEP_LOGS is set)."""
    extra = dict(getattr(request.module, "LINKGATE_SERVER_ENV", {}))
    data_dir = tempfile.mkdtemp(prefix="linkgate-e2e-data-")
    log_path = data_dir.rstrip("/") + ".log"
    srv = LinkgateServer(
        linkgate_bin, data_dir,
        server_env(LINKGATE_ROOT_ACCESS_KEY=AK, LINKGATE_ROOT_SECRET_KEY=SK, **extra), log_path,
    )
    yield srv
    srv.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    if not os.environ.get("LINKGATE_E2E_KEEP_LOGS"):
        try:
            os.remove(log_path)
        except FileNotFoundError:
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the tail of the server's stderr to the report."""
    outcome = yield
    report = outcome.get_result()
    srv = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(srv, LinkgateServer) and os.path.exists(srv.log_path):
        with open(srv.log_path, errors="replace") as f:
            tail = f.readlines()[-40:]
        report.sections.append(("linkgate serve stderr (tail)", "".join(tail)))


@pytest.fixture()
def aws(server, aws_env):
    """aws(*args, creds=(ak, sk[, token])) runs the AWS CLI against the server (root by
    default); check=False returns the failed process instead of raising."""

    def _aws(*args, creds=None, check=True, timeout=600):
        env = dict(aws_env)
        if creds:
            env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = creds[0], creds[1]
            if len(creds) > 2:
                env["AWS_SESSION_TOKEN"] = creds[2]
        proc = subprocess.run(
            [sys.executable, "-m", "awscli", *args, "--endpoint-url", server.url],
            env=env, capture_output=True, text=True, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    return _aws


def s3_error(resp, status, code, message=None):
    """Asserts an S3 XML error with this status, code (and message), whose RequestId
    is the x-amz-request-id header; returns its elements by name."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers.get("Content-Type", "").startswith("application/xml"), resp.headers
    root = ET.fromstring(resp.content)
    assert root.tag == "Error", resp.text
    fields = {child.tag: child.text or "" for child in root}
    assert fields.get("Code") == code, resp.text
    if message is not None:
        assert fields.get("Message") == message, resp.text
    assert fields.get("RequestId") == resp.headers.get("x-amz-request-id"), resp.text
    return fields


def send(method, url, **kwargs):
    """`requests`, but the URL goes out byte for byte, as presigned (requests would
    re-encode it and drop `.`/`..` segments)."""
    import requests

    with requests.Session() as session:
        prepared = session.prepare_request(requests.Request(method, url, **kwargs))
        prepared.url = url
        return session.send(prepared, timeout=60)
