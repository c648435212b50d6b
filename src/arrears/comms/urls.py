from django.urls import path

from . import sms_views, views

urlpatterns = [
    path("optout/<str:token>/", views.optout, name="comms-optout"),
    path("sms/inbound/", sms_views.inbound, name="comms-sms-inbound"),
]
