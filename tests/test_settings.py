"""chatsite.settings, read in fresh processes with controlled environments."""

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "ACS_CONNECTION_STRING",
    "ACS_CA_BUNDLE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
    "RELAY_EVENTS",
    "ACS_EVENTS_SECRET",
}
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "example.com",
}
DUMP_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "DATABASE": settings.DATABASES["default"]["ENGINE"],
    "DATABASE_NAME": str(settings.DATABASES["default"]["NAME"]),
    "CHANNEL_LAYER": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "CACHE": settings.CACHES["default"]["BACKEND"],
    "ACS_CA_BUNDLE": settings.ACS_CA_BUNDLE,
    "SECURE_PROXY_SSL_HEADER": getattr(settings, "SECURE_PROXY_SSL_HEADER", None),
}))
"""


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean["DJANGO_SETTINGS_MODULE"] = "chatsite.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def dump(**env: str) -> dict:
    result = run(["-c", DUMP_SETTINGS], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_in_production():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_flags_development_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG
    assert "security.W009" in result.stderr  # the development SECRET_KEY


def test_secret_key_is_required_without_debug():
    result = run(["manage.py", "check"], DEBUG="false", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is false" in result.stderr


def test_events_need_a_secret_and_take_several_while_rotating():
    result = run(["manage.py", "check"], RELAY_EVENTS="true")
    assert result.returncode != 0
    assert "RELAY_EVENTS is on: set ACS_EVENTS_SECRET" in result.stderr
    code = "from django.conf import settings; import django; django.setup(); "
    code += "print(settings.RELAY_EVENTS, settings.ACS_EVENTS_SECRETS)"
    done = run(["-c", code], RELAY_EVENTS="true", ACS_EVENTS_SECRET="old,new")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "True ('old', 'new')"
    off = run(["-c", code])
    assert off.stdout.strip().splitlines()[-1] == "False ()"


def test_defaults_are_sqlite_and_the_in_memory_layer():
    values = dump()
    assert values["DEBUG"] is True
    assert values["DATABASE"] == "django.db.backends.sqlite3"
    assert values["DATABASE_NAME"] == str(BASE_DIR / "db.sqlite3")
    assert values["CHANNEL_LAYER"] == "chat.layers.InProcessChannelLayer"
    assert values["CACHE"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["ACS_CA_BUNDLE"] is None
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_environment_selects_postgres_redis_and_the_proxy_header():
    values = dump(
        DATABASE_URL="postgres://kwebbel@db.internal:5432/kwebbel",
        REDIS_URL="redis://cache.internal:6379/0",
        ACS_CA_BUNDLE="/etc/ssl/acs.pem",
        SECURE_PROXY_SSL_HEADER="true",
    )
    assert values["DATABASE"] == "django.db.backends.postgresql"
    assert values["DATABASE_NAME"] == "kwebbel"
    assert values["CHANNEL_LAYER"] == "channels_redis.core.RedisChannelLayer"
    assert values["CACHE"] == "django.core.cache.backends.redis.RedisCache"
    assert values["ACS_CA_BUNDLE"] == "/etc/ssl/acs.pem"
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.redis
def test_redis_url_gives_a_working_channel_layer(redis_url):
    script = """
import asyncio, django
django.setup()
from channels.layers import get_channel_layer

async def main():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "ping", "n": 1})
    print(type(layer).__name__, (await layer.receive(channel))["n"])

asyncio.run(main())
"""
    result = run(["-c", script], REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisChannelLayer", "1"]


@pytest.mark.postgres
def test_database_url_migrates_a_postgres_database(postgres_url):
    import psycopg
    from psycopg import sql

    name = f"kwebbel_settings_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = postgres_url.rsplit("/", 1)[0] + "/" + name
        result = run(["manage.py", "migrate", "--noinput"], DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        with psycopg.connect(url) as conn:
            tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables")}
        assert {"tokens_acsidentity", "auth_user", "django_session"} <= tables
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
