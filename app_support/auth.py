"""Who is using the app, and so which workspace of the ledger (and which adapters) they see.

Open by default: on a single user's machine (the server listens on loopback) everything belongs to the
ledger's default workspace. With an ``[auth]`` section in ``.streamlit/secrets.toml`` (Streamlit's OpenID
Connect sign-in, ``st.login``), every page first asks to sign in, and each user works in a workspace of
their own, named by their e-mail address, unless ``[kronos_studio.workspaces]`` maps that address to a
shared one (an admin shares a workspace by mapping several addresses to it).
"""
from __future__ import annotations

import streamlit as st

from kronos_studio.desk.ledger import DEFAULT_WORKSPACE

SECRETS_SECTION = "kronos_studio"  # [kronos_studio.workspaces] e-mail = "workspace"
SHARED_NOTICE_SEEN = "_shared_workspace_notice_seen"  # session state: the notice below was dismissed
SHARED_NOTICE = (
    "**Everyone using this app shares one workspace:** forecasts, scores and adapters made in any session show "
    "in all (a fan \"from cache\"). For one workspace per user, turn on sign-in: an `[auth]` section in "
    "`.streamlit/secrets.toml` (docs/service.md).")


def sign_in_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file: the open, single-user app
        return False


def signed_in() -> bool:
    # st.user holds no is_logged_in key at all before the first sign-in of a session (AppTest, too)
    return bool(st.user.get("is_logged_in", False))


def workspace_for(email: str, shared: dict | None = None) -> str:
    """The workspace of a signed-in user: the one ``shared`` maps their address to, else their own."""
    email = email.strip().lower()
    mapped = {k.strip().lower(): v for k, v in (shared or {}).items()}
    return str(mapped.get(email, email))


def workspace() -> str:
    """This session's workspace (the default one when sign-in is not configured)."""
    if not sign_in_configured() or not signed_in():
        return DEFAULT_WORKSPACE
    shared = st.secrets.get(SECRETS_SECTION, {}).get("workspaces", {})
    return workspace_for(st.user.email or st.user.get("sub", ""), dict(shared))


def require_sign_in() -> None:
    """With sign-in configured, a page for a signed-in user only: the others get a sign-in button."""
    if not sign_in_configured():
        return
    if not signed_in():
        st.title("Kronos Studio")
        st.info("Sign in to see your workspace: its forecasts, track records and adapters.")
        if st.button("Sign in", key="sign_in", type="primary"):
            st.login()
        st.stop()
    with st.sidebar:
        st.caption(f"Signed in as **{st.user.email}** · workspace **{workspace()}**")
        if st.button("Sign out", key="sign_out"):
            st.logout()


def shared_workspace_notice() -> None:
    """Without sign-in, say once per session (until dismissed) that every session shares one workspace."""
    if sign_in_configured() or st.session_state.get(SHARED_NOTICE_SEEN):
        return
    # In the sidebar: on the page it pushed the fan and its numbers below the fold of a 1366x768 laptop.
    with st.sidebar.container(border=True):
        st.info(SHARED_NOTICE, icon=":material/group:")
        st.button("Understood", key="shared_notice_seen", on_click=st.session_state.__setitem__,
                  args=(SHARED_NOTICE_SEEN, True))
