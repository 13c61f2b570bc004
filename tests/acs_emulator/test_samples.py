"""Microsoft's own SDK samples, run unchanged against the emulator.

The sample scripts ship in the source distributions of azure-communication-chat 1.3.0 and
azure-communication-identity 1.5.0 (not in the wheels), so the sdists are downloaded once per test
session with pip: hence the ``network`` mark (skipped when the registry cannot be reached, a
failure in CI). Every script then runs in its own subprocess, configured only through environment
variables, exactly as Microsoft documents for a real Communication Services resource.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from acs_emulator.process import EmulatorProcess

pytestmark = pytest.mark.network

SDISTS = ("azure-communication-chat==1.3.0", "azure-communication-identity==1.5.0")

# Each sample with the line it prints last when it ran to the end.
SAMPLES = {
    "chat_client_sample.py": "cleaning up: deleting created user.",
    "chat_client_sample_async.py": "cleaning up: deleting created user.",
    "chat_thread_client_sample.py": "cleaning up: deleting created users.",
    "chat_thread_client_sample_async.py": None,  # see test_async_chat_thread_sample_*
    "user_credential_sample.py": "cleaning up: deleting created user.",
    "user_credential_sample_async.py": "cleaning up: deleting created user.",
    "identity_samples.py": "Skipping the Get Access Token for Teams User sample",
    "identity_samples_async.py": "Skipping the Get Access Token for Teams User sample",
}
BROKEN_ASYNC_SAMPLE = "chat_thread_client_sample_async.py"

# Credentials for Entra ID would make the identity samples use DefaultAzureCredential instead of
# the connection string, and azure-identity is not installed.
UNWANTED_ENV = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID")

SAMPLE_TIMEOUT = 180


@dataclass(frozen=True)
class SampleRun:
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"exit code {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All sample scripts of both sdists, downloaded once per session."""
    download = tmp_path_factory.mktemp("sdists")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        + ["--disable-pip-version-check", "-q", "-d", str(download), *SDISTS],
        check=True,
        timeout=300,
    )
    samples = tmp_path_factory.mktemp("samples")
    archives = sorted(download.glob("*.tar.gz"))
    assert len(archives) == len(SDISTS), archives
    for archive in archives:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if len(parts) == 3 and parts[1] == "samples" and member.isfile():
                    source = tar.extractfile(member)
                    assert source is not None
                    (samples / parts[2]).write_bytes(source.read())
    return samples


def _sample_env(emulator: EmulatorProcess) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in UNWANTED_ENV}
    env.update(
        COMMUNICATION_SAMPLES_CONNECTION_STRING=emulator.connection_string,
        AZURE_COMMUNICATION_SERVICE_ENDPOINT=emulator.endpoint,
        SKIP_INT_IDENTITY_EXCHANGE_TOKEN_TEST="true",
        # requests (sync clients) and aiohttp/OpenSSL (async clients) trust the emulator's CA.
        REQUESTS_CA_BUNDLE=str(emulator.ca_bundle),
        SSL_CERT_FILE=str(emulator.ca_bundle),
        PYTHONUNBUFFERED="1",
    )
    return env


def _run_sample(script: Path, env: dict[str, str]) -> SampleRun:
    try:
        done = subprocess.run(
            [sys.executable, script.name],
            cwd=script.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=SAMPLE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        return SampleRun(-1, _text(exc.stdout), _text(exc.stderr) + "\n[timed out]")
    return SampleRun(done.returncode, done.stdout, done.stderr)


def _text(value: str | bytes | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


@pytest.fixture(scope="session")
def sample_runs(sample_dir: Path, acs_emulator: EmulatorProcess) -> dict[str, SampleRun]:
    """Every sample, run once against the session emulator; in parallel, as they are independent."""
    env = _sample_env(acs_emulator)
    scripts = sorted(sample_dir.glob("*.py"))
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        results = list(pool.map(lambda script: _run_sample(script, env), scripts))
    return {script.name: run for script, run in zip(scripts, results, strict=True)}


def test_the_sdists_ship_exactly_the_known_samples(sample_dir: Path) -> None:
    # A sample added upstream would otherwise go unrun without anyone noticing.
    assert sorted(p.name for p in sample_dir.glob("*.py")) == sorted(SAMPLES)


@pytest.mark.parametrize(
    "sample", [name for name in SAMPLES if name != BROKEN_ASYNC_SAMPLE], ids=lambda name: name
)
def test_sample_runs_to_the_end(sample: str, sample_runs: dict[str, SampleRun]) -> None:
    run = sample_runs[sample]
    assert run.returncode == 0, run.describe()
    assert run.stdout.rstrip().splitlines()[-1] == SAMPLES[sample], run.describe()
    assert "Traceback" not in run.stderr, run.describe()


def test_async_chat_thread_sample_fails_only_on_its_own_closed_client(
    sample_runs: dict[str, SampleRun],
) -> None:
    """chat_thread_client_sample_async.py has a bug of its own, whatever service it talks to.

    Its `update_topic_async` uses the shared `self._chat_client` in `async with`, which closes the
    client's aiohttp transport on exit; the next step (`send_message_async`) enters the same client
    again and azure-core refuses to reopen a closed transport. Everything up to and including the
    topic update has to succeed against the emulator, and the failure must be exactly that one.
    """
    run = sample_runs[BROKEN_ASYNC_SAMPLE]
    assert run.returncode == 1, run.describe()
    assert "create_chat_thread_client_async succeeded" in run.stdout, run.describe()
    assert (
        "Chat Thread Topic Update: Previous value:  test topic , "
        "Current value:  updated thread topic" in run.stdout
    ), run.describe()
    assert run.stdout.rstrip().splitlines()[-1] == "update_topic_async succeeded", run.describe()
    last_error = run.stderr.rstrip().splitlines()[-1]
    assert last_error.startswith("ValueError: HTTP transport has already been closed."), (
        run.describe()
    )
    assert "in send_message_async" in run.stderr, run.describe()
