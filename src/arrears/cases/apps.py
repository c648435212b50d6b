from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "arrears.cases"
    label = "cases"
    verbose_name = "Cases: promises and disputes"
