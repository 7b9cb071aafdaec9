"""Choosing the served model over HTTP and in the console: `GET /v1/models`, `PUT
/v1/models/current` (administrators) and the administrator's model page in headless Chromium,
on a real server around a registry of two small models. Every change is kept in the registry's
history, with who made it."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from api.main import create_app
from triage.auth.tokens import create as create_token
from triage.classify import registry

from .console_seed import seed
from .live import LiveServer, SettableClock
from .test_console_e2e import START, browser, sign_in  # noqa: F401 - fixtures
from .test_promotion import _save


@pytest.fixture
def two_models(tmp_path, small_model, small_examples_refit, monkeypatch) -> Path:
    """A registry serving test-small, with test-other beside it and test-altered (a file changed
    since its card was written); the registry in use."""
    root = tmp_path / "reg"
    root.mkdir()
    _save(small_model, root / "test-small")
    other = _save(small_examples_refit, root / "test-other")
    # As `triage train` writes it when the gate held the model back (its figures as the card has them).
    card = json.loads((other / "card.json").read_text())
    card["evaluation"] = {
        "real_test_by_register": {"narrative": {"business_line": {"accuracy": 0.8125}, "major": {"recall": 0.5}}},
        "promotion": {"made_current": False, "decided_by": "gate", "against": "test-small",
                      "held_back_by": ["narrative major recall -0.109 [-0.172, -0.057]"]}}
    (other / "card.json").write_text(json.dumps(card))
    altered = _save(small_examples_refit, root / "test-altered")
    with (altered / "model.npz").open("ab") as f:
        f.write(b"\0")
    (root / "CURRENT").write_text("test-small\n")
    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(root))
    registry.clear_cache()
    return root


@pytest.fixture
def server(engine, two_models):
    with Session(engine) as s:
        tokens = {role: create_token(db_session=s, name=f"{role}-1", role=role, now=datetime.now(UTC))
                  for role in ("admin", "manager", "customer_care")}
        s.commit()
    with LiveServer(create_app(engine, registry.ModelLoader())) as live:
        yield live.url, tokens


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_an_administrator_serves_another_model_over_http(server, two_models):
    url, tokens = server
    with _client(url, tokens["manager"]) as manager:
        listed = manager.get("/v1/models").json()
        assert listed["serving"] == listed["current"] == "test-small" and listed["follows_current"] is True
        assert {m["name"]: m["current"] for m in listed["models"]} == {
            "test-small": True, "test-other": False, "test-altered": False}
        # Managers read; only administrators choose.
        r = manager.put("/v1/models/current", json={"name": "test-other"})
        assert r.status_code == 403
    with _client(url, tokens["customer_care"]) as care:
        assert care.get("/v1/models").status_code == 403

    with _client(url, tokens["admin"]) as admin:
        r = admin.put("/v1/models/current", json={"name": "test-other"})
        assert r.status_code == 200, r.text
        assert r.json()["serving"] == r.json()["current"] == "test-other"
        # This process answers with it at once, not at its next look at the registry.
        triaged = admin.post("/v1/triage", json={"text": "行驶中刹车失灵"}).json()
        assert triaged["classification"]["model"] == "test-other"
        [change] = r.json()["history"]
        assert change["model"] == "test-other" and change["before"] == "test-small"
        assert change["by"] == "admin-1 (API)"

        # Refused, and nothing changes: a model whose files do not match its card, one that is not
        # there, a name that is not a model name, an unknown field.
        for body, status in (({"name": "test-altered"}, 409), ({"name": "no-such"}, 404),
                             ({"name": "../test-small"}, 422), ({"name": "test-small", "force": True}, 422),
                             ({"name": "x" * 101}, 422)):
            r = admin.put("/v1/models/current", json=body)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        refused = admin.put("/v1/models/current", json={"name": "test-altered"}).json()
        assert "SHA-256 does not match" in refused["detail"]
        assert registry.current_name(two_models) == "test-other"
        assert [h["model"] for h in registry.history(two_models)] == ["test-other"]
        assert admin.get("/v1/model").json()["version"] == "test-other"


def test_a_server_started_with_a_named_model_refuses_to_switch(engine, two_models):
    with Session(engine) as s:
        token = create_token(db_session=s, name="admin-1", role="admin", now=datetime.now(UTC))
        s.commit()
    with LiveServer(create_app(engine, registry.ModelLoader("test-small"))) as live, _client(live.url, token) as admin:
        assert admin.get("/v1/models").json()["follows_current"] is False
        r = admin.put("/v1/models/current", json={"name": "test-other"})
        assert r.status_code == 409 and "triage serve --model" in r.json()["detail"]
    assert registry.current_name(two_models) == "test-small" and registry.history(two_models) == []


def test_the_administrators_model_page_serves_another_model_and_rolls_back(engine, browser, two_models,  # noqa: F811
                                                                            tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    loader = registry.ModelLoader()
    seed(engine, _policy(), loader(), START)
    with LiveServer(create_app(engine, loader, _policy(), SettableClock(START))) as live:
        ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        sign_in(page, live.url, "admin")
        page.goto(f"{live.url}/admin/models")
        assert page.locator("#serving b").first.inner_text() == "test-small"
        current = page.locator("#models tr.model.current")
        assert current.count() == 1 and current.get_attribute("data-model") == "test-small"
        assert current.locator("button.use").count() == 0  # nothing to switch to
        held = page.locator("#models tr[data-model=test-other]")
        assert held.locator(".status").inner_text() == "门槛拦下"
        assert held.locator(".held").get_attribute("title") == "narrative major recall -0.109 [-0.172, -0.057]"
        assert [held.locator("td.num").nth(i).inner_text() for i in (0, 4, 7)] == ["—", "0.812", "0.500"]
        page.locator("#models tr[data-model=test-other] button.use").click()
        page.wait_for_url(f"{live.url}/admin/models?done=model_used")
        assert page.locator("#models tr.model.current").get_attribute("data-model") == "test-other"
        assert "admin (console)" in page.locator("#history tr").nth(1).inner_text()
        assert registry.current_name(two_models) == "test-other"
        shot = Path(os.environ.get("TRIAGE_SCREENSHOTS", tmp_path)) / "models.png"  # the page as drawn
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        # A model that cannot serve is refused on the error page, and the served one stays.
        page.locator("#models tr[data-model=test-altered] button.use").click()
        assert "该模型不能在此使用" in page.locator("main").inner_text()
        assert registry.current_name(two_models) == "test-other"
        # The roll-back.
        page.goto(f"{live.url}/admin/models")
        page.locator("#models tr[data-model=test-small] button.use").click()
        page.wait_for_url(f"{live.url}/admin/models?done=model_used")
        assert [(h["model"], h["before"]) for h in registry.history(two_models)] == [
            ("test-other", "test-small"), ("test-small", "test-other")]
        # Only administrators see the page.
        manager = ctx.browser.new_context().new_page()
        sign_in(manager, live.url, "manager")
        assert manager.goto(f"{live.url}/admin/models").status == 403
        ctx.close()


def _policy():
    from triage.policy.loader import load_policy

    return load_policy()


def test_the_history_keeps_who_changed_the_served_model_and_why(tmp_path, small_model):
    root = tmp_path / "reg"
    root.mkdir()
    _save(small_model, root / "a")
    _save(small_model, root / "b")
    registry.set_current("a", root, by="ops", reason="first")
    registry.set_current("b", root, reason="second")
    (root / registry.HISTORY).open("a").write("not json\n")
    registry.use("a", root, by="someone")
    assert registry.use("a", root) == "a"  # already current: not a change
    changes = registry.history(root)
    assert [(c["model"], c["before"], c["reason"]) for c in changes] == [
        ("a", None, "first"), ("b", "a", "second"), ("a", "b", "checked and made current by a person")]
    assert changes[0]["by"] == "ops" and changes[1]["by"]  # the operating-system user
    assert json.loads(json.dumps(registry.overview(root)))["history"][0]["model"] == "a"  # newest first
