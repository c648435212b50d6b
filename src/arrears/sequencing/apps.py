from django.apps import AppConfig


class SequencingConfig(AppConfig):
    name = "arrears.sequencing"
    label = "sequencing"
    verbose_name = "Collection policy and sequencing"
