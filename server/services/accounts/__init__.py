"""Accounts: registration, sign-in tokens, profiles, roles and the admins' user management.

Public face: register_user, authenticate, issue_tokens, issue_access_token, revoke_token,
update_profile, deactivate_user, find_user_by_email, build_user, roles_by_name,
purge_expired_revocations (users); list_users, get_user, update_user, set_roles, deactivate,
ensure_admin (admin).
"""
from server.services.accounts.admin import (deactivate, ensure_admin, get_user, list_users,
                                            set_roles, update_user)
from server.services.accounts.users import (authenticate, build_user, deactivate_user,
                                            find_user_by_email, issue_access_token, issue_tokens,
                                            purge_expired_revocations, register_user,
                                            revoke_token, roles_by_name, update_profile)

__all__ = ["authenticate", "build_user", "deactivate", "deactivate_user", "ensure_admin",
           "find_user_by_email", "get_user", "issue_access_token", "issue_tokens", "list_users",
           "purge_expired_revocations", "register_user", "revoke_token", "roles_by_name",
           "set_roles", "update_profile", "update_user"]
