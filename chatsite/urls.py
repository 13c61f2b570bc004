"""Top-level URLs: chat (also the home page), account pages (profile included), the token
endpoint, the Event Grid webhook, languages, the admin and the favicon. Error pages are
templates/403.html, 404.html, 500.html (Django's default handlers), and chat pages render their
own (chat.views.chat_view)."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from chat.views import events
from chatsite import accounts


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever a page links; pages link the SVG itself."""
    return redirect(static("favicon.svg"), permanent=True)


urlpatterns = [
    path(
        "",
        login_required(RedirectView.as_view(pattern_name="chat:threads", query_string=True)),
        name="home",
    ),
    path("chat/", include("chat.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", accounts.SignUpView.as_view(), name="signup"),
    path("accounts/profile/", accounts.profile, name="profile"),
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("tokens/", include("tokens.urls")),
    # Event Grid's webhook for ACS chat events (machine to machine, secret in the URL or header).
    path("events/acs/", events.acs_events, name="acs_events"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page says; pages link the SVG itself.
    path("favicon.ico", favicon),
]
