"""Named permissions. Modules declare theirs; roles map to sets; a brand may narrow them.

Every view declares its access with :func:`requires` or :func:`public`; a test walks every route
of every brand and fails on a view that declares neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from engine.config.loader import CORE_PERMISSIONS
from engine.modules import ModuleRegistry
from engine.web import wants_json

F = TypeVar("F", bound=Callable[..., Any])

ACCESS_ATTR = "_daraport_access"

CORE_ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "patient": frozenset({"core.portal.patient", "core.account.manage", "core.audit.own"}),
    "specialist": frozenset({"core.portal.specialist", "core.account.manage"}),
    "org_admin": frozenset({"core.portal.org", "core.org.roster.view", "core.account.manage",
                            "core.audit.org"}),
    # brand staff who allocate specialists for assisted requests; their pages are modules'
    "coordinator": frozenset({"core.portal.org", "core.account.manage"}),
    "affiliate": frozenset({"core.portal.partners", "core.account.manage"}),
    "operator": frozenset(),
}


def role_permissions(enabled_modules: Iterable[str], registry: ModuleRegistry,
                     deny: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Role -> permissions on a brand: core + enabled modules' defaults, minus the brand's deny."""
    grants: dict[str, set[str]] = {role: set(p) for role, p in CORE_ROLE_PERMISSIONS.items()}
    for name in enabled_modules:
        for perm, roles in registry[name].permissions.items():
            for role in roles:
                grants.setdefault(role, set()).add(perm)
    for role, perms in deny.items():
        grants.get(role, set()).difference_update(perms)
    return {role: frozenset(p) for role, p in grants.items()}


def all_permissions(registry: ModuleRegistry) -> frozenset[str]:
    return CORE_PERMISSIONS | {p for m in registry for p in m.permissions}


def has_permission(user: Any, permission: str) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    grants = current_app.extensions["daraport"].role_permissions
    return permission in grants.get(user.role, frozenset())


def requires(permission: str) -> Callable[[F], F]:
    """The view needs a signed-in user whose role holds ``permission`` on this brand."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if wants_json():  # the same test that picks a JSON problem over a page
                    abort(401)
                return redirect(url_for("account.signin", next=request.full_path.rstrip("?")))
            if not has_permission(current_user, permission):
                from engine import audit

                audit.record_request("access.denied", outcome="denied",
                                     details={"permission": permission,
                                              "endpoint": request.endpoint})
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapper, ACCESS_ATTR, ("permission", permission))
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """The view is open to anyone (and says so, for the route audit)."""
    setattr(view, ACCESS_ATTR, ("public", None))
    return view


def access_of(view: Callable[..., Any]) -> tuple[str, str | None] | None:
    return getattr(view, ACCESS_ATTR, None)
