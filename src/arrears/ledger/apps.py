from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "arrears.ledger"
    label = "ledger"
    verbose_name = "AR ledger"

    def ready(self) -> None:
        from .lookups import lookups_register

        lookups_register()
