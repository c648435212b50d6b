from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _roles_after_migrate(**kwargs: Any) -> None:
    # Imported late: models are not ready while apps load.
    from .roles import roles_ensure

    roles_ensure()


class WebConfig(AppConfig):
    name = "arrears.web"
    label = "web"
    verbose_name = "Staff web app"

    def ready(self) -> None:
        # The role groups exist after every migrate (and after a test
        # database's flush, which sends post_migrate too). Django sends the
        # signal only for apps with models, so listen for auth's: the groups
        # table is auth's.
        post_migrate.connect(
            _roles_after_migrate,
            sender=apps.get_app_config("auth"),
            dispatch_uid="arrears-roles",
        )
