"""The REST API, /api/v1/ (DESIGN.md §5).

Every endpoint needs ``Authorization: Bearer <token>``; the OpenAPI document
(/api/v1/openapi.json) and its docs page (/api/v1/docs) describe the API, not
its data, and are public. Problems with a request answer 422 with
``{"detail": [{"loc", "field", "reason"}, …]}``, listing every one.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import HttpBearer

from arrears.ledger.csvfiles import RowError
from arrears.ledger.importers import ImportRejected
from arrears.ledger.services import ContactRejected

from .bulk import BulkTooLarge, BulkUnreadable
from .cases_views import router as cases_router
from .plan_views import router as plan_router
from .selectors import NotFound
from .services import token_user
from .views import router
from .work_views import router as work_router


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> object | None:
        user = token_user(token)
        if user is not None:
            request.user = user  # type: ignore[assignment]
        return user


api = NinjaAPI(
    title="Arrears API",
    version="1",
    description=(
        "Accounts-receivable ledger and collections. Resources are addressed by refs. "
        "Amounts are decimal strings in the currency's minor units; dates are ISO. "
        "Bulk upserts (POST to a collection) take a JSON list of CSV-contract rows."
    ),
    auth=BearerToken(),
    urls_namespace="api-v1",
)
# Before the ledger router: its /customers/{ref} would swallow /customers/{ref}/credit-status.
api.add_router("", cases_router)
api.add_router("", work_router)
api.add_router("", router)
api.add_router("", plan_router)


def _problems(request: HttpRequest, errors: list[RowError]) -> HttpResponse:
    detail = [{"loc": e.location, "field": e.field, "reason": e.reason} for e in errors]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(ImportRejected)
def import_rejected(request: HttpRequest, exc: ImportRejected) -> HttpResponse:
    return _problems(request, exc.errors)


@api.exception_handler(ContactRejected)
def contact_rejected(request: HttpRequest, exc: ContactRejected) -> HttpResponse:
    return _problems(request, [RowError("body", f, r) for f, r in exc.problems.items()])


@api.exception_handler(ValidationError)
def request_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Ninja's own checks (query, path, body schemas) in the same shape."""
    errors = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ninja puts the view's parameter name after "body"; clients never see it
        if len(loc) > 1 and loc[0] == "body":
            del loc[1]
        field = loc[-1] if len(loc) > 1 else "-"
        errors.append(RowError(".".join(loc) or "-", field, error["msg"]))
    return _problems(request, errors)


@api.exception_handler(NotFound)
def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=404)


@api.exception_handler(BulkTooLarge)
def too_large(request: HttpRequest, exc: BulkTooLarge) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=413)


@api.exception_handler(BulkUnreadable)
def unreadable(request: HttpRequest, exc: BulkUnreadable) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=400)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request, {"detail": "a valid API token is needed (Authorization: Bearer …)"}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="arrears"'
    return response
