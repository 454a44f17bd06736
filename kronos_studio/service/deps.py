"""The FastAPI dependencies of the routes: the application's ``Service`` and the identity of the request's
API key (``Who``), whose workspace every ``/v1`` endpoint acts in."""
from __future__ import annotations

import types
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPBearer

from kronos_studio.ledger.schema import DEFAULT_WORKSPACE

from .access import WHO
from .errors import ServiceError
from .keys import Identity, KeyProblem, check_workspace, identify
from .schemas import TEXT_PATTERN
from .state import Service

WORKSPACE_HEADER = "X-Kronos-Workspace"  # an admin key acting in another workspace (sharing)


def service_of(request: Request) -> Service:
    return request.app.state.service


Shared = Annotated[Service, Depends(service_of)]


# The key as the OpenAPI document declares it (every /v1 operation needs it); ``key_identity`` reads the header itself,
# so that a missing or malformed one is the service's own 401.
BEARER = HTTPBearer(auto_error=False, description="an API key made by `kronos keys create` (not needed by a server "
                                                  "open to this machine without keys)")


def identity(request: Request, service: Shared, _key: Annotated[object, Security(BEARER)] = None) -> Identity:
    """Who the request acts as (kept on ``request.state`` for the access log): its Bearer key's workspace (with
    ``open_access``: the default workspace), or another workspace an admin key names in
    ``X-Kronos-Workspace``. 401/403/422 otherwise."""
    who = key_identity(request, service)
    setattr(request.state, WHO, who)  # the log names the key even when the workspace it asks for is refused
    who = asked_workspace(request, who)
    setattr(request.state, WHO, who)
    return who


def key_identity(request: Request, service: Service) -> Identity:
    """The identity of the request's Bearer key (with ``open_access``: the default workspace's); 401 if none."""
    if service.config.open_access:
        return Identity("open", DEFAULT_WORKSPACE)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(401, "this service needs an API key: send 'Authorization: Bearer <token>' "
                                "(an admin makes one with `kronos keys create`)")
    who = identify(service.ledger, token.strip())
    if who is None:
        raise ServiceError(401, "the API key is not valid or was revoked: have a new one made with "
                                "`kronos keys create`")
    return who


def asked_workspace(request: Request, who: Identity) -> Identity:
    """``who``, acting in the workspace ``X-Kronos-Workspace`` names when it is an admin key (403 otherwise)."""
    asked = request.headers.get(WORKSPACE_HEADER)
    if asked and asked != who.workspace:
        if not who.admin:
            raise ServiceError(403, f"this key belongs to workspace '{who.workspace}'; only an admin key "
                                    f"(made by `kronos keys create` as an admin's) may act in '{asked}'")
        try:
            return Identity(who.key_id, check_workspace(asked), True)
        except KeyProblem as e:
            raise ServiceError(422, str(e)) from None
    return who


Who = Annotated[Identity, Depends(identity)]


def workspace_ledger(who: Who, service: Shared):
    """The ledger as the request's workspace sees it (``Ledger.scoped``)."""
    return service.ledger.scoped(who.workspace)


WorkspaceLedger = Annotated[object, Depends(workspace_ledger)]


# A text query parameter (a ledger filter), optional: a string when given (never JSON's null, which a query string
# cannot say), without what no database keeps (``schemas.TEXT_PATTERN``)
TextQuery = Annotated[str, Query(json_schema_extra={"pattern": TEXT_PATTERN})]


def known_query(request: Request) -> None:
    """A query parameter the route does not take is refused (422) with the nearest one it does, as an unknown body
    field is: never silently ignored (a misspelt filter would answer every row)."""
    import difflib

    from .errors import printable

    taken, lists = route_query(request.scope.get("route"))
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(taken), 1)
        raise ServiceError(422, f"unknown query parameter '{printable(name)[:100]}'"
                                + (f" (did you mean '{close[0]}'?)" if close else "")
                                + f": this endpoint takes {', '.join(sorted(taken)) or 'none'}")
    repeated = sorted({k for k in request.query_params if k not in lists and len(request.query_params.getlist(k)) > 1})
    if repeated:  # one value: a second would be silently dropped
        raise ServiceError(422, f"the query parameter '{repeated[0]}' is given {len(request.query_params.getlist(repeated[0]))} "
                                "times: it takes one value")


_QUERY: dict[int, tuple[frozenset[str], frozenset[str]]] = {}


def route_query(route) -> tuple[frozenset[str], frozenset[str]]:
    """(the query parameters ``route`` (an ``APIRoute``) takes, its dependencies' included; those that take a list)."""
    import typing

    if route is None or not hasattr(route, "dependant"):
        return frozenset(), frozenset()
    if id(route) not in _QUERY:
        names, lists, todo = set(), set(), [route.dependant]
        while todo:  # the route's own parameters and each dependency's
            dependant = todo.pop()
            for p in dependant.query_params:
                names.add(p.alias)
                hint = p.field_info.annotation
                options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
                if any(typing.get_origin(o) in (list, tuple) for o in options):
                    lists.add(p.alias)
            todo += dependant.dependencies
        _QUERY[id(route)] = (frozenset(names), frozenset(lists))
    return _QUERY[id(route)]
