"""Staff pages for the outbox: messages by status (the failed-messages
queue first), one message with its content and delivery events, and the
retry / accept-as-sent buttons."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from arrears.web.exports import csv_response

from .models import Message, MessageStatus, TemplateChannel
from .outbox import message_accept_sent, message_retry
from .selectors import FAILED_STATUSES, MESSAGE_FIELDS, message_row, messages_list

STATUS_TABS = (
    ("failed", "Failed queue"),
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("all", "All"),
)


@require_safe
@login_required
def message_list(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    status = request.GET.get("status", "failed")
    if status not in dict(STATUS_TABS):
        status = "failed"
    channel = request.GET.get("channel", "")
    if channel not in TemplateChannel.values:
        channel = ""
    messages = messages_list(status=status, channel=channel)
    if request.GET.get("format") == "csv":
        # The same columns as `arrears messages --format csv`.
        rows = (list(message_row(m).values()) for m in messages.iterator(chunk_size=2000))
        return csv_response(f"messages-{status}.csv", MESSAGE_FIELDS, rows)
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "comms/messages/list.html",
        {
            "page": page,
            "status": status,
            "tabs": STATUS_TABS,
            "channel": channel,
            "channels": TemplateChannel.choices,
        },
    )


@require_safe
@login_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(Message.objects.select_related("customer", "action"), pk=pk)
    return render(
        request,
        "comms/messages/detail.html",
        {
            "message": message,
            "events": message.events.all(),
            "retryable": message.status in FAILED_STATUSES,
            "uncertain": message.status == MessageStatus.UNCERTAIN,
        },
    )


@require_POST
@login_required
def message_action(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    message = get_object_or_404(Message, pk=pk)
    label = request.user.get_username()
    try:
        if verb == "retry":
            message_retry(message=message, actor_label=label)
            flash.success(request, f"Message {pk} is queued again.")
        elif verb == "accept":
            message_accept_sent(message=message, actor_label=label)
            flash.success(request, f"Message {pk} is recorded as sent.")
        else:
            return HttpResponse(status=404)
    except ValueError as error:
        flash.error(request, str(error))
    return redirect("message-detail", pk=pk)
