"""`GET /api/attention`: the tickets waiting for the team, as an operator's client reads them."""

from __future__ import annotations

from tests.web.test_openapi import ADMIN, client_of, service, with_one_done_delivery


async def test_a_customers_move_is_listed_for_the_admin_only(tmp_path):
    app = service(tmp_path, "open", finance_token=None)
    try:
        async with client_of(app) as client:
            assert (await client.get("/api/attention", headers=ADMIN)).json() == []
        await with_one_done_delivery(app)  # a customer's move Na klientovi → Hotovo, reverted
        async with client_of(app) as client:
            (row,) = (await client.get("/api/attention", headers=ADMIN)).json()
            refused = await client.get("/api/attention", headers={"Authorization": "Bearer finance-token"})
    finally:
        app.app.state.store.engine.dispose()
    assert row["ticket"] == "SRV-412" and row["tracker"] == "jira" and row["workflow"] == "service-sheet"
    assert (row["kind"], row["what"]) == ("customer", "moved Na klientovi → Hotovo (reverted)")
    assert "Jana Nováková" in row["by"] and row["since"].startswith("20")
    assert refused.status_code == 401
