from django.urls import path

from . import message_views

urlpatterns = [
    path("", message_views.message_list, name="messages"),
    path("<int:pk>/", message_views.message_detail, name="message-detail"),
    path("<int:pk>/<str:verb>/", message_views.message_action, name="message-action"),
]
