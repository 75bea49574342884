"""A real S3-compatible server for the tests: moto's server mode, on a local address."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

MOTO = Path(sys.executable).parent / "moto_server"
# moto accepts any credentials; these name the test's own, never a real account.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "stagecoach-test",
    "AWS_SECRET_ACCESS_KEY": "stagecoach-test-secret",
    "AWS_REGION": "us-east-1",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``moto_server`` bound to ``host`` (loopback, or a test network's own address)."""

    def __init__(self, log: Path, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self.endpoint = f"http://{host}:{self.port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [str(MOTO), "-H", host, "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"moto_server did not start; see {log}") from None
                time.sleep(0.1)

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point boto3 at this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def new_bucket(self) -> str:
        """A fresh bucket (one per test keeps tests apart)."""
        import boto3

        name = f"sc-{uuid.uuid4().hex[:20]}"
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=CREDENTIALS["AWS_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=name)
        return name

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def environ_with(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
