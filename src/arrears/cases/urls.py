"""Staff pages for cases, under /cases/."""

from django.urls import include, path

from . import views

app_name = "cases"

urlpatterns = [
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:approval_id>/decision", views.approval_decision, name="decide"),
    path("placements/", views.placements, name="placements"),
    path("placements/<int:placement_id>/", views.placement_detail, name="placement"),
    path(
        "placements/<int:placement_id>/confirm",
        views.placement_action,
        {"action": "confirm"},
        name="placement-confirm",
    ),
    path(
        "placements/<int:placement_id>/recall",
        views.placement_action,
        {"action": "recall"},
        name="placement-recall",
    ),
    path("placements/<int:placement_id>/pack.zip", views.placement_pack_download, name="pack"),
    path("", include("arrears.cases.plan_urls")),
]
