"""Sign-in and workspaces in the app: open (the default workspace) without an [auth] secret; with one,
nothing before signing in; each signed-in user's forecasts and adapters in a workspace of their own."""
from __future__ import annotations

import os

from app_helpers import kept_forecasts

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


def test_without_sign_in_a_notice_says_once_that_every_session_shares_the_workspace(new_app):
    """Issue 45 item 12: without sign-in, fans and scores of other sessions show in a new one; the app says so
    (and how to turn sign-in on) until the notice is dismissed, on every page; with sign-in it never shows."""
    at = new_app().run()
    assert not at.exception
    notice = [i.value for i in at.info if "shares one workspace" in i.value]
    assert len(notice) == 1 and "`[auth]` section in `.streamlit/secrets.toml`" in notice[0]
    at.switch_page("pages/screener.py").run()  # on every page until dismissed
    assert any("shares one workspace" in i.value for i in at.info)
    at.button(key="shared_notice_seen").click().run()
    assert not at.exception and not any("shares one workspace" in i.value for i in at.info)
    at.switch_page("pages/forecast.py").run()  # and dismissed for the session
    assert not any("shares one workspace" in i.value for i in at.info)
    assert not any(b.key == "shared_notice_seen" for b in at.button)


def test_with_sign_in_configured_the_shared_workspace_notice_never_shows(new_app, monkeypatch):
    import app_support.auth as auth

    at = new_app()
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://issuer.example/.well-known/openid-configuration"}
    at.run()
    assert not at.exception and not any("shares one workspace" in i.value for i in at.info)
    monkeypatch.setattr(auth, "signed_in", lambda: True)  # a signed-in user's pages: no notice there either
    monkeypatch.setattr(auth, "workspace", lambda: "ana@example.com")
    at.run()
    assert not at.exception and at.title and not any("shares one workspace" in i.value for i in at.info)


def test_a_signed_in_users_results_are_never_served_to_another_workspace_from_cache(new_app, monkeypatch):
    """The app's result stores are shared by every session of the process and keyed by content: the same bars,
    model and settings in another workspace are that workspace's own forecast, backtest and evaluation (sampled
    and recorded there), never another user's "from cache"."""
    import app_support.auth as auth
    from app_support import compare, trust

    def forecast_as(user: str):
        monkeypatch.setattr(auth, "workspace", lambda: user)
        at = new_app().run()
        at.sidebar.number_input(key="sb_horizon").set_value(9).run()
        at.number_input(key="sb_paths").set_value(4).run()
        return at

    ana = forecast_as("ana@example.com")
    ana.button(key="run_forecast").click().run()
    assert not ana.exception and {m.label: m for m in ana.metric}["Sampling time"].delta == "just sampled"
    stored = len(kept_forecasts())

    bo = forecast_as("bo@example.com")  # the same inputs: no fan until bo runs one
    assert [c.key for c in bo.get("plotly_chart")] == ["history_chart"]
    assert "Run forecast" in " ".join(i.value for i in bo.info)
    bo.button(key="run_forecast").click().run()
    assert not bo.exception and {m.label: m for m in bo.metric}["Sampling time"].delta == "just sampled"
    assert len(kept_forecasts()) == stored + 1
    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:  # and recorded in bo's workspace too
        assert len(ledger.scoped("bo@example.com").predictions_frame()) == 1

    # the Compare page's backtests and the Evaluate page's reports: keyed alike
    from app_support import forecasts
    from app_support.models import model_choices
    from data_sources import load_sample
    from kronos.settings import ForecastSettings
    from kronos_studio.desk import ComparePlan
    from kronos_studio.desk.compare import backtest_key, window
    from kronos_studio.desk.trust import trust_key

    bars, [choice, *_] = load_sample("IBM daily 2000-2013 (bundled)"), model_choices()
    settings = ForecastSettings(horizon=5, paths=4, lookback=64)
    desk = forecasts.desk(computing=False)
    keys = {}
    for user in ("ana@example.com", "bo@example.com", "ana@example.com"):
        monkeypatch.setattr(auth, "workspace", lambda user=user: user)
        asked = compare.request(bars, [choice], settings, None, ComparePlan(3))
        seen = window(desk, asked)
        keys.setdefault(user, []).append((backtest_key(desk, asked, seen.history, seen.actual, None),
                                          trust_key(bars, forecasts.identity(choice, bars),
                                                    trust.request(bars, choice, settings))))
    assert keys["ana@example.com"][0] == keys["ana@example.com"][1]
    for ana, bo in zip(keys["ana@example.com"][0], keys["bo@example.com"][0]):
        assert ana != bo
