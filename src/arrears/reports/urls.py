from django.urls import path

from . import views

urlpatterns = [
    path("", views.reports, name="reports"),
    path("aging.csv", views.aging_download, name="reports-aging-csv"),
    path("metrics.csv", views.metrics_download, name="reports-metrics-csv"),
    path("effectiveness.csv", views.effectiveness_download, name="reports-effectiveness-csv"),
    path("report.xlsx", views.workbook_download, name="reports-xlsx"),
]
