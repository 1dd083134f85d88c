import pytest
from fastapi.testclient import TestClient


def test_all_342_gemeenten_with_code_name_and_display_name(client: TestClient) -> None:
    r = client.get("/api/gemeenten")
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) == 342
    assert len({g["code"] for g in rows}) == 342
    assert all(g["code"].startswith("GM") and len(g["code"]) == 6 for g in rows)
    by_code = {g["code"]: g for g in rows}
    assert by_code["GM0518"] == {"code": "GM0518", "naam": "'s-Gravenhage", "weergavenaam": "Den Haag"}
    assert by_code["GM0796"]["weergavenaam"] == "Den Bosch"
    assert by_code["GM0373"]["weergavenaam"] == "Bergen (Noord-Holland)"
    assert by_code["GM0893"]["weergavenaam"] == "Bergen (Limburg)"
    assert by_code["GM1992"]["naam"] == "Voorne aan Zee"


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("den haag", "GM0518"),
        ("Den Haag", "GM0518"),
        ("s-gravenhage", "GM0518"),
        ("'s-Gravenhage", "GM0518"),
        ("sudwest", "GM1900"),
        ("SÚDWEST-FRYSLÂN", "GM1900"),
        ("den bosch", "GM0796"),
        ("hertogenbosch", "GM0796"),
        ("noardeast", "GM1970"),
        ("hengelo", "GM0164"),
    ],
)
def test_search_is_case_and_accent_insensitive(client: TestClient, q: str, code: str) -> None:
    r = client.get("/api/gemeenten", params={"q": q})
    assert r.status_code == 200
    assert code in [g["code"] for g in r.json()][:3]


def test_search_ranks_exact_and_prefix_matches_first(client: TestClient) -> None:
    names = [g["weergavenaam"] for g in client.get("/api/gemeenten", params={"q": "bergen"}).json()]
    assert names[:2] == sorted(names[:2]) and all(n.startswith("Bergen") for n in names[:3])


def test_search_without_match_is_an_empty_list(client: TestClient) -> None:
    r = client.get("/api/gemeenten", params={"q": "atlantis"})
    assert r.status_code == 200
    assert r.json() == []


def test_sync_is_idempotent(session) -> None:  # type: ignore[no-untyped-def]
    from backend.gemeenten.service import search_gemeenten, sync_gemeenten

    assert sync_gemeenten(session) == 342
    session.commit()
    assert len(search_gemeenten(session)) == 342
