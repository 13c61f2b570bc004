"""The demo-user command and `manage.py runkwebbel`, which `make run` uses."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from chatsite.management.commands.create_demo_users import DEMO_USERS

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_demo_users_are_created_idempotently(settings, django_user_model, capsys):
    settings.DEBUG = True
    call_command("create_demo_users")
    call_command("create_demo_users")

    output = capsys.readouterr().out
    for name, password, staff in DEMO_USERS:
        user = django_user_model.objects.get(username=name)
        assert user.check_password(password)
        assert user.is_staff is user.is_superuser is staff
        assert f"{name:<6} / {password}" in output
    assert django_user_model.objects.count() == len(DEMO_USERS)
    assert "alice: exists" in output


@pytest.mark.django_db
def test_demo_users_refused_without_debug(settings, django_user_model):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("create_demo_users")
    assert not django_user_model.objects.exists()
    call_command("create_demo_users", "--force")
    assert django_user_model.objects.filter(username="alice").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_runkwebbel_serves_the_site_with_the_emulator_and_its_events_and_stops_both(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"ACS_CONNECTION_STRING", "ACS_CA_BUNDLE", "REDIS_URL"}
    }
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DEBUG="true")
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput"], ["create_demo_users"]):
        subprocess.run(manage + command, cwd=BASE_DIR, env=env, check=True, capture_output=True)
    port, emulator_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            *manage,
            "runkwebbel",
            f"--port={port}",
            f"--emulator-port={emulator_port}",
            f"--emulator-data-dir={tmp_path / 'acs'}",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = ""
        while "Press Ctrl-C to stop." not in output:
            line = server.stdout.readline()
            assert line, f"runkwebbel exited early:\n{output}"
            output += line
        assert f"http://127.0.0.1:{port}/" in output
        assert "alice  / alice-demo-pw" in output
        # The emulator's chat events go to the webhook, which took the handshake with the
        # run's own secret and refuses a request without it.
        webhook = f"http://127.0.0.1:{port}/events/acs/"
        assert f"Chat events from the emulator go to {webhook} (Succeeded)" in output
        assert requests.post(webhook, json=[], timeout=10).status_code == 401

        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        for _ in range(100):  # Daphne binds shortly after it starts
            try:
                page = session.get(f"{base}/accounts/login/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert page.status_code == 200
        csrf = session.cookies["csrftoken"]
        home = session.post(
            f"{base}/accounts/login/",
            data={"username": "alice", "password": "alice-demo-pw", "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        assert re.search(r'signed-in-as">alice<', home.text)
        token = session.post(
            f"{base}/tokens/", headers={"X-CSRFToken": session.cookies["csrftoken"]}, timeout=10
        )
        assert token.status_code == 200
        assert token.json()["endpoint"] == f"https://127.0.0.1:{emulator_port}"
        assert port_open(emulator_port)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        server.stdout.close()
    assert not port_open(port)
    assert not port_open(emulator_port)
