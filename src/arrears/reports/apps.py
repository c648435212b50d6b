from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "arrears.reports"
    label = "reports"
    verbose_name = "Reports"
