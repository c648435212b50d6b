from django.urls import path

from . import views

urlpatterns = [
    path("", views.policy_list, name="policies"),
    path("candidate/", views.policy_candidate, name="policy-candidate"),
    path("<str:name>/v<int:version>/", views.policy_detail, name="policy-detail"),
]
