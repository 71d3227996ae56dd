from tests.factories import Org


def test_me_with_token(client, org: Org) -> None:
    response = client.get("/api/v1/me", headers=org.auth("east"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "east@acme.test"
    assert body["scope"] == {"everywhere": False, "unit_codes": ["EAST"]}


def test_units_scoped(client, org: Org) -> None:
    codes = [u["code"] for u in client.get("/api/v1/units", headers=org.auth("store")).json()["items"]]
    assert codes == ["SH001"]
    assert client.get("/api/v1/units/GZ001", headers=org.auth("east")).status_code == 404
