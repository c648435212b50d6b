"""The REST API, /api/v1/ (DESIGN.md §5)."""

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import HttpBearer

from .services import token_user


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> object | None:
        user = token_user(token)
        if user is not None:
            request.user = user  # type: ignore[assignment]
        return user


api = NinjaAPI(
    title="Arrears API",
    version="1",
    description="Accounts-receivable ledger and collections. Resources are addressed by refs.",
    auth=BearerToken(),
    urls_namespace="api-v1",
)
