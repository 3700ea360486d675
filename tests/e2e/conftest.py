"""Shared fixtures for end-to-end tests: the linkgate binary and an isolated AWS env."""

import os
import subprocess
import tempfile

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
