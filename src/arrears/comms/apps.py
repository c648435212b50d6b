from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "arrears.comms"
    label = "comms"
    verbose_name = "Communications"
