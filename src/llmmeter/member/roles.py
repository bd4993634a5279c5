from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    member = "member"
    viewer = "viewer"


class Permission(StrEnum):
    view = "view"  # dashboards, requests, export
    manage_keys = "manage_keys"  # see, create, rotate, revoke API keys
    manage_workspace = "manage_workspace"  # budgets, prices, metadata defaults, data, members


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.owner: frozenset(Permission),
    Role.admin: frozenset(Permission),
    Role.member: frozenset({Permission.view, Permission.manage_keys}),
    Role.viewer: frozenset({Permission.view}),
}


def allows(role: str, permission: Permission) -> bool:
    return permission in GRANTS[Role(role)]
