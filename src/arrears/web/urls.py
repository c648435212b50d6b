from django.contrib.auth import views as auth_views
from django.urls import include, path

from arrears.comms import staff_views

from . import contact_views, document_views, exports, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/tasks/<int:pk>/done/", views.task_done, name="task-done"),
    path("worklist/tasks/<int:pk>/script/", views.task_script_view, name="task-script"),
    path("worklist/tasks/<int:pk>/snooze/", views.task_snooze_view, name="task-snooze"),
    path("worklist/tasks/<int:pk>/reassign/", views.task_reassign_view, name="task-reassign"),
    path("customers/", views.customers, name="customers"),
    path("customers/<str:customer_ref>/", views.customer_detail, name="customer"),
    path("customers/<str:customer_ref>/call/", views.customer_call, name="customer-call"),
    path("customers/<str:customer_ref>/note/", views.customer_note, name="customer-note"),
    path("customers/<str:customer_ref>/promise/", views.customer_promise, name="customer-promise"),
    path("customers/<str:customer_ref>/dispute/", views.customer_dispute, name="customer-dispute"),
    path(
        "customers/<str:customer_ref>/automation/",
        views.customer_automation,
        name="customer-automation",
    ),
    path("customers/<str:customer_ref>/email/", views.customer_email, name="customer-email"),
    path(
        "customers/<str:customer_ref>/contacts/new/",
        contact_views.contact_new,
        name="contact-new",
    ),
    path(
        "customers/<str:customer_ref>/contacts/<int:pk>/",
        contact_views.contact_edit,
        name="contact-edit",
    ),
    path(
        "customers/<str:customer_ref>/contacts/<int:pk>/consent/",
        contact_views.contact_consent,
        name="contact-consent",
    ),
    path(
        "customers/<str:customer_ref>/documents/",
        document_views.document_upload,
        name="customer-document",
    ),
    path("documents/<int:pk>/", document_views.document_download, name="document"),
    path(
        "customers/<str:customer_ref>/timeline.csv",
        exports.customer_timeline_csv,
        name="customer-timeline-csv",
    ),
    path(
        "customers/<str:customer_ref>/invoices.csv",
        exports.customer_invoices_csv,
        name="customer-invoices-csv",
    ),
    path("invoices/<str:invoice_ref>/", views.invoice_detail, name="invoice"),
    path("search/", views.search_view, name="search"),
    path("reports/", include("arrears.reports.urls")),
    path("policies/", include("arrears.sequencing.urls")),
    path("templates/", staff_views.template_list, name="templates"),
    path(
        "templates/<str:key>/<str:channel>/<str:language>/",
        staff_views.template_detail,
        name="template-detail",
    ),
    path(
        "templates/<str:key>/<str:channel>/<str:language>/edit/",
        staff_views.template_edit,
        name="template-edit",
    ),
    path("templates/use/<int:pk>/", staff_views.template_use, name="template-use"),
    path("messages/", include("arrears.comms.staff_urls")),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="web/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
