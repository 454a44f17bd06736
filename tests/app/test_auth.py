"""Sign-in and workspaces in the app: open (the default workspace) without an [auth] secret; with one,
nothing before signing in; each signed-in user's forecasts and adapters in a workspace of their own."""
from __future__ import annotations

import os

from kronos_studio.ledger import Ledger


def test_workspace_of_a_user_is_their_own_unless_an_admin_shares_one():
    from app_support.auth import workspace_for

    assert workspace_for("Ana@Example.com") == "ana@example.com"
    shared = {"ana@example.com": "desk-fx", "Bo@example.com": "desk-fx"}
    assert workspace_for("bo@example.com", shared) == workspace_for("ANA@example.com", shared) == "desk-fx"
    assert workspace_for("cy@example.com", shared) == "cy@example.com"


def test_with_sign_in_configured_nothing_shows_before_signing_in(new_app):
    at = new_app()
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://issuer.example/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert "Sign in to see your workspace" in " ".join(i.value for i in at.info)
    assert [b.key for b in at.button] == ["sign_in"]  # no page, no sidebar inputs, no run button
    assert not at.sidebar.selectbox


def test_a_signed_in_users_forecasts_go_to_their_workspace_only(new_app, monkeypatch, tmp_path):
    import app_support.auth as auth
    from app_support.adapters import adapter_dir

    monkeypatch.setattr(auth, "workspace", lambda: "ana@example.com")
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(9).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and at.get("plotly_chart")
    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        assert len(ledger.scoped("ana@example.com").predictions_frame()) == 1
        assert ledger.scoped("default").predictions_frame().empty  # the open app's workspace sees none of it
    assert adapter_dir().parts[-2:] == ("workspaces", "ana@example.com")

    monkeypatch.setattr(auth, "workspace", lambda: "bo@example.com")  # another user: the Track record is empty
    other = new_app().run()
    other.switch_page("pages/track_record.py").run()
    assert not other.exception and not other.dataframe
