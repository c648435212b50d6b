"""Staff pages. Views are thin: authentication, one selector, a template."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from .selectors import dashboard_figures


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    figures = dashboard_figures(as_of=timezone.localdate())
    return render(request, "web/dashboard.html", {"dashboard": figures})
