from django.contrib import admin
from django.urls import include, path

from arrears.api.urls import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("cases/", include("arrears.cases.urls")),
    path("comms/", include("arrears.comms.urls")),
    path("portal/", include("arrears.portal.urls")),
    path("", include("arrears.web.urls")),
]
