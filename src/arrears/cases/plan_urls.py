"""Staff pages for payment plans and deductions (included in cases/urls.py)."""

from django.urls import path

from . import plan_views

urlpatterns = [
    path("plans/<int:plan_id>/", plan_views.plan_detail, name="plan"),
    path("plans/<int:plan_id>/agreement.pdf", plan_views.plan_agreement, name="plan-agreement"),
    path("plans/new/<path:customer_ref>/", plan_views.plan_new, name="plan-new"),
    path("deductions/", plan_views.deductions, name="deductions"),
]
