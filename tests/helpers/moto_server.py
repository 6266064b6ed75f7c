"""A real S3 endpoint for end-to-end tests: moto's server on loopback, with signatures checked.

Why: ClickHouse's S3 disk must be seen writing objects, under the prefix each pod gets, with
the credentials the pod gets. ``moto_server`` (PyPI ``moto[s3,server]``) speaks the S3 protocol
over HTTP. By default it accepts any request; DESIGN.md section 7 gives the way to make it
check SigV4 signatures: create an IAM user and access key first, then
``POST /moto-api/reset-auth`` with body ``0`` (``Content-Type: text/plain``); from then on
every request must be signed with a key moto knows (and be allowed by the user's policy).

The server binds to 127.0.0.1 only, is started with a bounded wait and stopped by its PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
REGION = "us-east-1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
ALLOW_ALL_S3 = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


class MotoError(RuntimeError):
    """moto could not be started or configured; the message carries its output."""


@dataclass
class MotoS3:
    """A running moto server that checks signatures, and the one key that it accepts."""

    process: subprocess.Popen[bytes]
    port: int
    access_key_id: str
    secret_access_key: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def client(self, secret_access_key: str | None = None) -> Any:
        """A boto3 S3 client signing with the IAM user's key (or another secret)."""
        return _client("s3", self.url, self.access_key_id, secret_access_key or self.secret_access_key)

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket`` (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def stop(self) -> None:
        stop_process(self.process)
        self.log.unlink(missing_ok=True)


def moto_server_executable() -> Path:
    """``moto_server`` from the running interpreter's environment; raise (never skip) if absent."""
    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        raise MotoError(f"{exe} not found: install the test extra (moto[s3,server])")
    return exe


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_moto_s3() -> MotoS3:
    """Start moto on a free loopback port, create an IAM user with an S3-allowing policy and an
    access key, then switch signature checking on. The caller must ``stop()`` it."""
    exe = moto_server_executable()
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    with log.open("wb") as out:
        proc = subprocess.Popen([str(exe), "-H", HOST, "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        _wait_ready(proc, port, log)
        iam = _client("iam", f"http://{HOST}:{port}", "bootstrap", "bootstrap")
        iam.create_user(UserName="weave-clickhouse")
        iam.put_user_policy(UserName="weave-clickhouse", PolicyName="s3", PolicyDocument=ALLOW_ALL_S3)
        key = iam.create_access_key(UserName="weave-clickhouse")["AccessKey"]
        _post(port, "/moto-api/reset-auth", b"0")
        return MotoS3(proc, port, key["AccessKeyId"], key["SecretAccessKey"], log)
    except BaseException:
        stop_process(proc)
        raise


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the one process we started, by its PID; SIGKILL it after a bounded wait."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MotoError(f"moto_server exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/moto-api/data.json", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise MotoError(f"moto_server not ready on {HOST}:{port} after {START_TIMEOUT}s:\n"
                    f"{log.read_text(errors='replace')}")


def _post(port: int, path: str, body: bytes) -> None:
    request = urllib.request.Request(f"http://{HOST}:{port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        if resp.status != 200:
            raise MotoError(f"POST {path}: HTTP {resp.status}: {resp.read()!r}")


def _client(service: str, url: str, key_id: str, secret: str) -> Any:
    import boto3  # imported here: only the tests that talk to S3 pay for it
    from botocore.config import Config

    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id=key_id,
                        aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      connect_timeout=5, read_timeout=30))
