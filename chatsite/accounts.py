"""Sign-up and the profile page. Sign-in, sign-out and password change are Django's own views
(see chatsite.urls)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django.views.generic import CreateView

from chat.actions import ActionError
from chat.actions.profiles import do_update_profile, profile_for
from chat.forms import ProfileForm
from chat.people import display_name


class SignUpView(CreateView):
    """Create an account and sign straight in; signed-in users are sent home."""

    form_class = UserCreationForm
    template_name = "registration/signup.html"

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: UserCreationForm) -> HttpResponse:
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return HttpResponseRedirect(resolve_url(settings.LOGIN_REDIRECT_URL))


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The user's display name and time zone."""
    current = profile_for(request.user)
    form = ProfileForm(
        request.POST or None,
        initial={"display_name": current.display_name, "time_zone": current.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        try:
            do_update_profile(
                request.user, form.cleaned_data["display_name"], form.cleaned_data["time_zone"]
            )
        except ActionError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Profile saved."))
            return redirect("profile")
    return render(
        request,
        "registration/profile.html",
        {"form": form, "shown_as": display_name(request.user)},
        status=400 if form.errors else 200,
    )
