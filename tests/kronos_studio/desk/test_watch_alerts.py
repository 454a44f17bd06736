"""Alerts: the rules raise exactly the alerts they say, delivered to a webhook that is sometimes down (retried with
backoff) and by e-mail through a local SMTP server, each delivery kept with its attempts; no secret in a message,
a kept error or a log; a tick run again sends nothing twice."""
from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest
from watch_kit import request

from kronos_studio.alerts import Email, Message, Retry, Webhook, deliver
from kronos_studio.desk import Desk
from kronos_studio.desk.watch import AlertChannels, AlertRules, Replay
from kronos_studio.ledger import Ledger
from kronos_studio.ledger.watches import WatchBook

TOKEN = "T000/B000/secret-token-XYZ"  # a webhook URL's secret part


class Receiver:
    """A local webhook that answers 503 to its first ``down`` requests, then takes them (their JSON bodies)."""

    def __init__(self, down: int = 0):
        self.down, self.tries, self.received = down, 0, []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.tries += 1
                if owner.tries <= owner.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                owner.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{TOKEN}"

    def close(self):
        self.server.shutdown()


class SmtpServer:
    """A tiny local SMTP server (the commands smtplib sends) keeping each message's text."""

    def __init__(self):
        self.messages = []
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str):
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 localhost ready")
                while True:
                    line = self.rfile.readline().decode().strip()
                    if not line:
                        return
                    verb = line.split()[0].upper()
                    if verb == "DATA":
                        self.reply("354 go on")
                        lines = []
                        while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                            lines.append(data)
                        owner.messages.append("".join(lines))
                        self.reply("250 kept")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # EHLO, HELO, MAIL, RCPT, RSET, NOOP
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def make(down=0):
        made.append(Receiver(down))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.close()


def test_a_webhook_down_twice_is_retried_with_backoff_and_no_secret_is_said(receiver):
    hook = receiver(down=2)
    waits = []
    done = deliver(Message("drift", "drift:X", "X is drifting"), Webhook(hook.url), Retry(4, 1.5), waits.append)
    assert done.sent and done.attempts == 3 and waits == [1.5, 3.0]
    assert hook.received == [{"text": "X is drifting", "rule": "drift", "event": "drift:X", "series": None}]
    assert TOKEN not in done.target and done.target == f"http://127.0.0.1:{hook.server.server_port}/…"
    down = receiver(down=99)
    failed = deliver(Message("drift", "drift:X", "t"), Webhook(down.url), Retry(3, 1.0), waits.append)
    assert not failed.sent and failed.attempts == 3 and "503" in failed.error and TOKEN not in failed.error


def test_a_refusal_is_not_retried_and_smtp_delivers(smtp, monkeypatch):
    monkeypatch.setenv("SMTP_SECRET", "hunter2")
    mail = Email("127.0.0.1", ("desk@example.com",), smtp.port, user=None, password_env="SMTP_SECRET")
    done = deliver(Message("price_crossed", "price:X:100", "X crossed 100"), mail, Retry(2, 0.0), lambda s: None)
    assert done.sent and done.attempts == 1 and len(smtp.messages) == 1
    assert "X crossed 100" in smtp.messages[0] and "hunter2" not in smtp.messages[0]
    nobody = Email("127.0.0.1", ("desk@example.com",), 1)  # a port nothing listens on: refused, retried
    failed = deliver(Message("r", "e", "t"), nobody, Retry(2, 0.5), lambda s: None)
    assert not failed.sent and failed.attempts == 2 and "hunter2" not in failed.error


def crash_series(path, crash_at: str, end: str) -> None:
    """NYSE daily bars after the training period, a calm walk whose close falls 40% on ``crash_at``."""
    import numpy as np
    from testkit import nyse_daily_export

    nyse_daily_export(path, start="2025-06-02", end=end, seed=5, price=100.0)
    frame = pd.read_csv(path)
    after = frame["Date"] >= crash_at
    for column in ("Open", "High", "Low", "Close", "Adj Close"):
        frame.loc[after, column] = (frame.loc[after, column] * 0.6).round(2)
    first = int(np.flatnonzero(after)[0])
    frame.loc[first, "Open"] = frame.loc[first - 1, "Close"]  # the day opens where the last one closed, falls
    frame.loc[first, "High"] = frame.loc[first, "Open"]
    frame.to_csv(path, index=False)


def test_the_rules_raise_exactly_their_alerts_on_both_channels_once_each(tmp_path, monkeypatch, receiver, smtp):
    """Over a replay of 8 sessions: the 40% fall on the 5th is a VaR exception of each of the 3 forecasts whose
    3-bar horizon holds it (and any other exception the risk record finds is alerted too, once); the close crosses
    80 once; a series too short for a forecast is refused from the first tick (one alert, not one per tick); one
    tick fails once. Each alert goes to the webhook (down for its first 2 requests) and by e-mail, once: a rerun
    sends nothing again."""
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "storage"))
    folder = tmp_path / "watchlist"
    folder.mkdir()
    crash_series(folder / "CRASH.csv", crash_at="2026-05-07", end="2026-05-12")
    frame = pd.read_csv(folder / "CRASH.csv")
    frame.tail(20).to_csv(folder / "SHORT.csv", index=False)  # 20 bars: fewer than the lookback reads
    hook = receiver(down=2)
    channels = AlertChannels(webhooks=(hook.url,), email_to=("desk@example.com",), smtp_host="127.0.0.1",
                             smtp_port=smtp.port, attempts=4, backoff_s=0.25)
    rules = AlertRules(var_level=0.99, price_levels=("CRASH=80",), drift=False, champion_changed=False)
    asked = request(folder, replay=Replay("2026-05-01", "2026-05-12"), alerts=rules, channels=channels)
    waits, calls = [], []

    def fail_once(series):
        calls.append(series)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        with pytest.raises(RuntimeError, match="disk full"):
            Desk().watch(asked, ledger, sleep=waits.append, after_record=fail_once)
        done = Desk().watch(asked, ledger, sleep=waits.append)
        assert all(t.status in ("already", "done") for t in done.ticks)
        book = WatchBook(ledger.replaying(done.replay))
        kept = book.alerts(done.watch.id)
        again = Desk().watch(asked, ledger, sleep=waits.append)  # run again: nothing more is sent
        assert [t.status for t in again.ticks] == ["already"] * len(again.ticks)
        # what the rule says: every forecast of the replay whose horizon return was a loss beyond its 99% VaR
        from kronos_studio.risk.measures import RiskSettings
        from kronos_studio.risk.record import risk_record

        judged = risk_record(ledger.replaying(done.replay), RiskSettings(levels=(0.99,), positions=("long",))).forecasts
        expected = set(judged.loc[judged["exception_long_0.99"].astype(bool), "prediction_id"].astype(int))
        crash = {int(i) for i, last in zip(judged["prediction_id"], pd.to_datetime(judged["last_bar_at"]))
                 if "2026-05-04" <= f"{last:%Y-%m-%d}" <= "2026-05-06"}
    assert len(crash) == 3 and crash <= expected  # the forecasts whose horizon holds the fall
    alerted = [a["prediction_id"] for a in hook.received if a["rule"] == "var_exception"]
    assert sorted(alerted) == sorted(expected)  # each exception once, no other
    rules_seen = sorted(a["rule"] for a in hook.received if a["rule"] != "var_exception")
    assert rules_seen == ["data_gate", "price_crossed", "tick_failed"]
    alerts = 3 + len(expected)
    assert len(hook.received) == alerts and len(smtp.messages) == alerts
    assert len(kept) == 2 * alerts and all(a.status == "sent" for a in kept)
    assert sum(a.attempts for a in kept) == 2 * alerts + 2 and waits[:2] == [0.25, 0.5]  # the webhook's two 503s
    crossed = [a for a in hook.received if a["rule"] == "price_crossed"]
    assert crossed[0]["previous_close"] > 80 > crossed[0]["close"]
    said = json.dumps(hook.received) + "".join(smtp.messages) + json.dumps([a.to_dict() for a in kept])
    assert TOKEN not in said
