"""Sign up, sign in, sign out and the home page."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.fixtures.site import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def test_home_requires_sign_in():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_sign_in_shows_who_is_signed_in(make_site_user):
    make_site_user("alice")
    client = Client(enforce_csrf_checks=True)
    page = client.get(reverse("login"))
    assert page.status_code == 200

    response = client.post(
        reverse("login"),
        {
            "username": "alice",
            "password": TEST_PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        follow=True,
    )

    assert response.redirect_chain == [("/", 302), ("/chat/", 302)]
    assert 'data-testid="signed-in-as">alice<' in response.content.decode()


def test_wrong_password_is_refused(make_site_user):
    make_site_user("alice")
    response = Client().post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in response.client.session
    assert "Please enter a correct username and password" in response.content.decode()


def test_sign_up_creates_the_account_and_signs_in(django_user_model):
    client = Client()
    response = client.post(
        reverse("signup"),
        {
            "username": "dave",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/", 302), ("/chat/", 302)]
    assert 'data-testid="signed-in-as">dave<' in response.content.decode()
    assert django_user_model.objects.get(username="dave").check_password("a-long-passphrase-9")


def test_sign_up_rejects_weak_or_taken(make_site_user, django_user_model):
    make_site_user("alice")
    weak = Client().post(
        reverse("signup"), {"username": "eve", "password1": "123", "password2": "123"}
    )
    taken = Client().post(
        reverse("signup"),
        {
            "username": "alice",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert weak.status_code == taken.status_code == 200
    assert "This password is too short" in weak.content.decode()
    assert "A user with that username already exists" in taken.content.decode()
    assert not django_user_model.objects.filter(username="eve").exists()


def test_sign_out_is_a_post(make_site_user):
    client = Client()
    client.force_login(make_site_user())
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


def test_static_css_is_served(client):
    response = client.get("/static/css/kwebbel.css")
    assert response.status_code == 200
    assert b":root" in b"".join(response.streaming_content)
