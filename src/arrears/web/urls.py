from django.contrib.auth import views as auth_views
from django.urls import include, path

from arrears.comms import staff_views

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("reports/", include("arrears.reports.urls")),
    path("templates/", staff_views.template_list, name="templates"),
    path(
        "templates/<str:key>/<str:channel>/<str:language>/",
        staff_views.template_detail,
        name="template-detail",
    ),
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
