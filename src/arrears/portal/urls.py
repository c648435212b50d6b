from django.urls import path

from . import application_views, views

urlpatterns = [
    path("", views.home, name="portal-home"),
    path("l/<str:token>/", views.link_open, name="portal-open"),
    path("signin/", views.signin, name="portal-signin"),
    path("signout/", views.signout, name="portal-signout"),
    path("invoices/", views.invoices, name="portal-invoices"),
    path("invoices/<str:ref>/", views.invoice_detail, name="portal-invoice"),
    path("invoices/<str:ref>/pdf/", views.invoice_pdf, name="portal-invoice-pdf"),
    path("pay/", views.pay, name="portal-pay"),
    path("promise/", views.promise, name="portal-promise"),
    path("dispute/", views.dispute, name="portal-dispute"),
    path("plan/", views.plan, name="portal-plan"),
    path("contacts/", views.contacts, name="portal-contacts"),
    path("contacts/<int:pk>/", views.contact_edit, name="portal-contact"),
    path("details/", views.details, name="portal-details"),
    path("apply/", application_views.apply, name="portal-apply"),
    path("apply/thanks/", application_views.apply_done, name="portal-apply-done"),
    path("staff/applications/", application_views.applications, name="portal-applications"),
    path(
        "staff/applications/<str:ref>/",
        application_views.application_detail,
        name="portal-application",
    ),
    path(
        "staff/applications/<str:ref>/documents/<int:pk>/",
        application_views.application_document,
        name="portal-application-document",
    ),
    path(
        "staff/attachments/<int:pk>/",
        application_views.dispute_attachment,
        name="portal-dispute-attachment",
    ),
]
