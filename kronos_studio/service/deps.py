"""The FastAPI dependencies of the routes: the application's ``Service`` and the identity of the request's
API key (``Who``), whose workspace every ``/v1`` endpoint acts in; the query parameters a route draws from a desk
request's knobs (``with_query``) and the request read back from them (``knob_request``)."""
from __future__ import annotations

import difflib
import inspect
import types
import typing
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPBearer

from kronos.errors import printable
from kronos.settings import bounds, knobs
from kronos_studio.desk.ledger import DEFAULT_WORKSPACE

from .access import WHO
from .errors import ServiceError
from .keys import Identity, KeyProblem, check_workspace, identify
from .schemas import TEXT_PATTERN, bounded_type, checked_text, rule_schema
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


def text_pattern(schema: dict) -> None:
    """A query parameter's JSON schema with ``TEXT_PATTERN`` on its text (each item's, for a list)."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string" and "enum" not in option:
            option.setdefault("pattern", TEXT_PATTERN)
        elif option.get("type") == "array" and isinstance(option.get("items"), dict):
            text_pattern(option["items"])


def knob_queries(cls) -> list[inspect.Parameter]:
    """The fields with a ``Knob`` of the desk request ``cls`` as a route's query parameters: named by the knob's
    setting, typed and bounded as a request body's fields are (``schemas.bounded_type``: the options class's own
    check and its JSON schema), described by the knob, optional (a query string cannot say null: one not given is
    the request's default), text without what no database keeps (``TEXT_PATTERN``). A field added to the request
    with its ``Knob`` is a query parameter with no edit here."""
    hints, rules = typing.get_type_hints(cls), bounds(cls)
    out = []
    for name, (default, knob) in knobs(cls).items():
        setting, hint = knob.name(name), hints[name]
        given = [a for a in typing.get_args(hint) if a is not type(None)]  # str | None: a str when given
        if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(given) == 1:
            hint = given[0]
        rule = rules.get(name, (None, None))[1]
        bounded = rule_schema(rule) if rule is not None else None

        def schema(out: dict, bounded=bounded) -> None:  # the bounds (which Query's extra would replace) and the text
            if bounded is not None:
                bounded(out)
            text_pattern(out)

        typed = bounded_type(hint, setting, rule)
        query = Query(description=f"{knob.label}: {knob.help}", json_schema_extra=schema)
        out.append(inspect.Parameter(setting, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[typed, query],
                                     default=default if isinstance(default, bool) else None))
    return out


def with_query(cls):
    """A route (taking ``**asked``) with the knobs of the desk request ``cls`` as its query parameters
    (``knob_queries``), so that FastAPI reads, checks and documents them from the request's one home."""
    def add(route):
        sig = inspect.signature(route, eval_str=True)  # the annotations as types: FastAPI reads them from here
        fixed = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        route.__signature__ = sig.replace(parameters=fixed + knob_queries(cls))
        return route
    return add


def knob_request(cls, asked: dict, **more):
    """The desk request ``cls`` a route's knob query parameters ask for (``asked``, by setting; one not given: its
    default), ``more`` beside them; text that no database keeps refused (422), naming the parameter."""
    values = {}
    for name, (_, knob) in knobs(cls).items():
        setting = knob.name(name)
        if asked.get(setting) is None:
            continue
        try:
            values[name] = checked_text(list(asked[setting]) if isinstance(asked[setting], tuple) else asked[setting])
        except ValueError as e:
            raise ServiceError(422, f"{setting} {e}: give it as printable text") from None
    return cls(**values, **more)


def known_query(request: Request) -> None:
    """A query parameter the route does not take is refused (422) with the nearest one it does, as an unknown body
    field is: never silently ignored (a misspelt filter would answer every row)."""
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
