from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from arrears.ledger.selectors import ar_totals


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(request, "web/dashboard.html", {"today": today, "totals": ar_totals(today)})
