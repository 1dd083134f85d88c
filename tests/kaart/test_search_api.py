"""Search for jongeren: ranking, Dutch stemming, accent folding, filters, "nu open", distance; service pages,
postcodes and corrections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backend.kaart.schedule import TZ
from tests.accounts.helpers import new_client
from tests.kaart.kaart_api import A, csv_bytes, load_examples, make_editor, names, row, upload_and_publish

NowSetter = Callable[[datetime], None]

LOCAL = [
    row(
        "Schuldhulp",
        onderwerpen="schulden",
        minimum_leeftijd=18,
        maximum_leeftijd=27,
        whatsapp="06 12 34 56 78",
        email="schuldhulp@test.example",
        website="https://schuldhulp.test.example",
        melding="Let op: nieuw adres vanaf april.",
    ),
    row(
        "Budgetcoach",
        omschrijving="Hulp als je schulden hebt of dreigt te krijgen.",
        onderwerpen="geldzaken, zorgtoeslag",
        kosten="10 euro per maand",
        openingstijden="za 10:00-12:00",
        postcode="9742 BL",
    ),
    row(
        "Wijkteam Súdwest",
        omschrijving="Voor alles in de wijk.",
        leefgebieden="relaties",
        onderwerpen="jeugdhulp-wmo",
        openingstijden="24/7",
        postcode="9721 PE",
    ),
    row(
        "Zorgloket",
        omschrijving="Vragen over je zorgverzekering.",
        leefgebieden="gezondheid",
        onderwerpen="zorgverzekering, zorgtoeslag",
        minimum_leeftijd=16,
        maximum_leeftijd=18,
        openingstijden="ma-vr 09:00-12:00",
        uitzonderingen="2026-03-02 gesloten; feestdagen gesloten",
    ),
]
NATIONAL = [
    row(
        "Landelijke schuldenlijn",
        organisatie="Stichting Landelijk",
        onderwerpen="schulden",
        openingstijden="24/7",
        telefoon="0800-8115",
        straat="",
        huisnummer="",
        postcode="",
        plaats="",
    )
]


@pytest.fixture
def kaart(admin: TestClient, set_now: NowSetter) -> TestClient:
    upload_and_publish(admin, "landelijk", csv_bytes(NATIONAL))
    upload_and_publish(admin, A, csv_bytes(LOCAL))
    return admin


def find(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/kaart/{A}/services", params={"per_page": 50, **params})
    assert r.status_code == 200, r.text
    return r.json()


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {x["name"]: x for x in body["results"]}


def test_stemming_and_ranking(kaart: TestClient, client: TestClient) -> None:
    found = names(client.get(f"/api/kaart/{A}/services", params={"q": "schuld"}))
    assert found[0] == "Schuldhulp"  # in the name, the topics and the description
    assert set(found) == {"Schuldhulp", "Landelijke schuldenlijn", "Budgetcoach"}
    assert found[-1] == "Budgetcoach"  # only "schulden" in the description
    assert names(client.get(f"/api/kaart/{A}/services", params={"q": "schulden"}))[0] == "Schuldhulp"
    # Every word must match: "schulden wijk" finds nothing.
    assert names(client.get(f"/api/kaart/{A}/services", params={"q": "schulden wijk"})) == []
    # Stop words do not count; compounds match on their parts.
    assert names(client.get(f"/api/kaart/{A}/services", params={"q": "vragen over de verzekering"})) == ["Zorgloket"]
    national = by_name(find(client, q="schuld"))["Landelijke schuldenlijn"]
    assert national["national"] is True and national["kaart"] == "landelijk"


@pytest.mark.parametrize("q", ["sudwest", "Súdwest", "SUDWEST", "súdwest"])
def test_accents_and_case_do_not_matter(kaart: TestClient, client: TestClient, q: str) -> None:
    assert names(client.get(f"/api/kaart/{A}/services", params={"q": q})) == ["Wijkteam Súdwest"]


def test_filters(kaart: TestClient, client: TestClient) -> None:
    topics = find(client, topic=["zorgverzekering", "zorgtoeslag"])
    assert [x["name"] for x in topics["results"]] == ["Zorgloket", "Budgetcoach"]  # 2 topics before 1
    assert topics["results"][0]["matched_topics"] == ["zorgverzekering", "zorgtoeslag"]
    assert [x["name"] for x in find(client, leefgebied="relaties")["results"]] == ["Wijkteam Súdwest"]
    assert "Budgetcoach" not in by_name(find(client, gratis="true"))
    assert set(by_name(find(client, leeftijd=25))) == {
        "Schuldhulp",
        "Budgetcoach",
        "Wijkteam Súdwest",
        "Landelijke schuldenlijn",
    }
    assert "Schuldhulp" not in by_name(find(client, leeftijd=17))
    page = find(client, per_page=2, page=2)
    assert page["total"] == 5 and len(page["results"]) == 2
    assert page["kaart_published"] is True and page["gemeente"] == {"code": A, "naam": "Groningen"}


def test_open_now_with_an_injected_clock(kaart: TestClient, client: TestClient, set_now: NowSetter) -> None:
    # Monday 2 March 2026 10:00: the Zorgloket is closed that day (exception).
    everything = by_name(find(client))
    assert everything["Schuldhulp"]["is_open"] is True
    assert everything["Schuldhulp"]["closes_at"] == "2026-03-02T17:00:00+01:00"
    assert everything["Zorgloket"]["is_open"] is False
    assert everything["Zorgloket"]["next_open"] == "2026-03-03T09:00:00+01:00"
    assert everything["Budgetcoach"]["next_open"] == "2026-03-07T10:00:00+01:00"
    assert everything["Wijkteam Súdwest"]["is_open"] is True and everything["Wijkteam Súdwest"]["closes_at"] is None
    assert set(by_name(find(client, open_now="true"))) == {"Schuldhulp", "Wijkteam Súdwest", "Landelijke schuldenlijn"}

    set_now(datetime(2026, 3, 8, 23, 30, tzinfo=TZ))  # Sunday night: only the 24/7 services
    assert set(by_name(find(client, open_now="true"))) == {"Wijkteam Súdwest", "Landelijke schuldenlijn"}
    set_now(datetime(2026, 4, 6, 10, 0, tzinfo=TZ))  # Tweede Paasdag: "feestdagen gesloten"
    assert by_name(find(client))["Zorgloket"]["is_open"] is False


def test_distance_from_a_postcode(kaart: TestClient, client: TestClient) -> None:
    body = find(client, postcode="9742ab")
    assert body["postcode"] == {"postcode": "9742 AB", "known": True, "gemeenten": [A], "precision": "wijk"}
    ordered = [(x["name"], x["distance_km"]) for x in body["results"]]
    assert ordered[0] == ("Budgetcoach", 0.0)
    distances = [d for _, d in ordered if d is not None]
    assert distances == sorted(distances)
    assert ordered[-1] == ("Landelijke schuldenlijn", None)  # no location: no distance, last
    unknown = find(client, postcode="1234")
    assert unknown["postcode"]["known"] is False and all(x["distance_km"] is None for x in unknown["results"])


def test_bad_search_input_gets_dutch_messages(kaart: TestClient, client: TestClient) -> None:
    r = client.get(f"/api/kaart/{A}/services", params={"topic": "schuldhulp"})
    assert r.status_code == 422 and r.json()["fields"]["topic"].startswith("Dit onderwerp kennen we niet")
    r = client.get(f"/api/kaart/{A}/services", params={"leefgebied": "geld"})
    assert r.status_code == 422 and "leefgebied" in r.json()["fields"]["leefgebied"]
    r = client.get(f"/api/kaart/{A}/services", params={"postcode": "12345"})
    assert r.status_code == 422 and "geen postcode" in r.json()["fields"]["postcode"]
    r = client.get(f"/api/kaart/{A}/services", params={"leeftijd": 200})
    assert r.status_code == 422 and r.json()["fields"]["leeftijd"] == "Dit getal is te groot of te klein."
    r = client.get(f"/api/kaart/{A}/services", params={"q": "x" * 201})
    assert r.status_code == 422 and "te lang" in r.json()["fields"]["q"]
    assert client.get("/api/kaart/GM9999/services").json()["detail"].startswith("Deze gemeente kennen we niet")


def test_a_gemeente_without_a_kaart_still_shows_national_help(kaart: TestClient, client: TestClient) -> None:
    body = client.get("/api/kaart/GM0518/services").json()
    assert body["kaart_published"] is False
    assert [x["name"] for x in body["results"]] == ["Landelijke schuldenlijn"]


def test_service_page(kaart: TestClient, client: TestClient) -> None:
    sid = by_name(find(client))["Schuldhulp"]["id"]
    r = client.get(f"/api/kaart/{A}/services/{sid}", params={"postcode": "9742"})
    assert r.status_code == 200
    d = r.json()
    assert d["name"] == "Schuldhulp" and d["organization"] == "Stichting Test" and d["national"] is False
    assert d["cost"] == "Gratis" and d["minimum_age"] == 18 and d["maximum_age"] == 27
    assert d["email_url"] == "mailto:schuldhulp@test.example" and d["website"] == "https://schuldhulp.test.example"
    assert d["alert"] == "Let op: nieuw adres vanaf april." and d["checked_on"] == "2026-01-12"
    assert d["topics"] == [{"id": "schulden", "label": "Schulden"}]
    loc = d["locations"][0]
    assert loc["address"]["one_line"] == "Grote Markt 1, 9712 HN Groningen"
    assert loc["route_url"].startswith("https://www.openstreetmap.org/search?query=Grote%20Markt%201")
    assert loc["phones"] == [{"number": "050 000 10 00", "tel": "tel:+31500001000"}]
    assert loc["whatsapp"] == [{"number": "06 12 34 56 78", "url": "https://wa.me/31612345678"}]
    assert loc["distance_km"] is not None and loc["distance_km"] > 1
    assert loc["is_open"] is True and loc["closes_at"] == "2026-03-02T17:00:00+01:00"
    assert [x["slots"] for x in loc["hours"]["week"]] == [["09:00-17:00"]] * 5 + [[], []]
    assert loc["hours"]["next_days"][0]["date"] == "2026-03-02"

    zorg = by_name(find(client))["Zorgloket"]["id"]
    hours = client.get(f"/api/kaart/{A}/services/{zorg}").json()["locations"][0]["hours"]
    assert hours["next_days"][0] == {
        "date": "2026-03-02",
        "day": "ma",
        "name": "maandag",
        "slots": [],
        "note": "Gesloten",
    }
    assert hours["exceptions"] == [{"start": "2026-03-02", "end": "2026-03-02", "closed": True, "slots": []}]
    assert hours["closed_on_holidays"] is True

    national = by_name(find(client))["Landelijke schuldenlijn"]["id"]
    n = client.get(f"/api/kaart/{A}/services/{national}").json()
    assert n["national"] is True and n["locations"] == []
    assert n["phones"] == [{"number": "0800-8115", "tel": "tel:08008115"}] and n["hours"]["always_open"] is True
    assert client.get(f"/api/kaart/{A}/services/00000000-0000-0000-0000-000000000000").status_code == 404


def test_postcode_lookup(client: TestClient) -> None:
    r = client.get("/api/postcodes/9712 HN")
    assert r.status_code == 200
    assert r.json()["gemeenten"] == [{"code": "GM0014", "naam": "Groningen", "weergavenaam": "Groningen"}]
    assert r.json()["precision"] == "wijk"
    two = client.get("/api/postcodes/7351").json()
    assert [g["code"] for g in two["gemeenten"]] == ["GM0200", "GM0228"]  # the UI asks which one
    assert client.get("/api/postcodes/8888").status_code == 404
    assert "nog niet in onze lijst" in client.get("/api/postcodes/8888").json()["detail"]
    assert client.get("/api/postcodes/0123").status_code == 422


def test_corrections_flow(admin: TestClient, client: TestClient, session: Session, set_now: NowSetter) -> None:
    load_examples(session, ("landelijk", A, "GM0363"))
    editor_a = make_editor(admin, A)
    editor_b = make_editor(admin, "GM0363")
    local = find(client, q="jongerenloket")["results"][0]
    national = find(client, q="113")["results"][0]
    anon = new_client(client)
    r = anon.post(
        f"/api/kaart/{A}/services/{local['id']}/corrections",
        json={"message": "  Het telefoonnummer is veranderd.  ", "contact": "sam@example.nl"},
    )
    assert r.status_code == 201 and "Bedankt" in r.json()["message"]
    assert (
        anon.post(f"/api/kaart/{A}/services/{national['id']}/corrections", json={"message": "Dicht"}).status_code == 201
    )

    too_long = anon.post(f"/api/kaart/{A}/services/{local['id']}/corrections", json={"message": "x" * 1001})
    assert too_long.status_code == 422 and "te lang" in too_long.json()["fields"]["message"]
    empty = anon.post(f"/api/kaart/{A}/services/{local['id']}/corrections", json={"message": "   "})
    assert empty.status_code == 422
    wrong = anon.post("/api/kaart/GM0363/services/" + local["id"] + "/corrections", json={"message": "Klopt niet"})
    assert wrong.status_code == 404  # a Groningen service is not on the Amsterdam kaart

    listed = editor_a.get(f"/api/beheer/kaart/{A}/corrections").json()
    assert [(c["service_name"], c["message"], c["contact"]) for c in listed] == [
        (local["name"], "Het telefoonnummer is veranderd.", "sam@example.nl")
    ]
    assert editor_b.get(f"/api/beheer/kaart/{A}/corrections").status_code == 403
    assert editor_b.get("/api/beheer/kaart/GM0363/corrections").json() == []
    cid = listed[0]["id"]
    assert editor_b.post(f"/api/beheer/kaart/GM0363/corrections/{cid}/resolve").status_code == 404
    done = editor_a.post(f"/api/beheer/kaart/{A}/corrections/{cid}/resolve", json={"resolution": "Aangepast"})
    assert done.status_code == 200 and done.json()["status"] == "resolved" and done.json()["resolution"] == "Aangepast"
    assert editor_a.get(f"/api/beheer/kaart/{A}/corrections").json() == []
    assert len(editor_a.get(f"/api/beheer/kaart/{A}/corrections", params={"status": "all"}).json()) == 1
    # A remark about a national service goes to the national kaart (admins).
    assert [c["message"] for c in admin.get("/api/beheer/kaart/landelijk/corrections").json()] == ["Dicht"]


def test_corrections_are_rate_limited(kaart: TestClient, client: TestClient) -> None:
    sid = find(client)["results"][0]["id"]
    codes = [
        client.post(f"/api/kaart/{A}/services/{sid}/corrections", json={"message": f"Melding {i}"}).status_code
        for i in range(11)
    ]
    assert codes == [201] * 10 + [429]


def test_fast_json_answers_match_the_documented_models(kaart: TestClient, client: TestClient) -> None:
    """Search and service pages skip response validation for speed; their shape must still be the models'."""
    from backend.kaart.models import SearchOut, ServiceDetailOut, ServiceSummaryOut

    body = find(client, postcode="9712")
    SearchOut.model_validate(body)
    assert set(body) == set(SearchOut.model_fields)
    assert all(set(r) == set(ServiceSummaryOut.model_fields) for r in body["results"])
    for r in body["results"]:
        d = client.get(f"/api/kaart/{A}/services/{r['id']}", params={"postcode": "9712"}).json()
        ServiceDetailOut.model_validate(d)
        assert set(d) == set(ServiceDetailOut.model_fields)
