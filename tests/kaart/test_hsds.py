"""HSDS 3.0: export validates against the official schemas, import(export(x)) == x, foreign files import."""

from __future__ import annotations

import copy
import csv
import io
import json
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from backend.kaart import hsds
from backend.kaart.parsing import Table, kaart_to_csv, parse_table, parse_upload
from backend.kaart.records import Kaart, is_uuid, load_taxonomy
from backend.kaart.safety import UploadError
from backend.kaart.schedule import format_exceptions, format_week, parse_schedule

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sociale_kaart" / "hsds-3.0" / "schema"
TODAY = date(2026, 12, 2)
EXAMPLES = [
    ("sociale_kaart/voorbeelden/GM0014-groningen.csv", "GM0014"),
    ("sociale_kaart/voorbeelden/GM0363-amsterdam.csv", "GM0363"),
    ("sociale_kaart/voorbeelden/GM0518-s-gravenhage.csv", "GM0518"),
    ("sociale_kaart/landelijk.csv", "landelijk"),
]
BASE = "https://schemas.openreferral.local/hsds/3.0/"


def load(path: str, code: str) -> Kaart:
    result = parse_upload((ROOT / path).read_bytes(), path, namespace=code, today=TODAY)
    assert result.report.ok
    return result.kaart


@pytest.fixture(scope="module")
def service_validator() -> Draft202012Validator:
    assert (SCHEMA_DIR / "service.json").exists(), f"HSDS 3.0 schemas missing in {SCHEMA_DIR}"
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        if path.name == "openapi.json":
            continue
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((BASE + path.name, Resource.from_contents(contents, default_specification=DRAFT202012)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft202012Validator(
        {"$ref": BASE + "service.json"}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def schema_errors(validator: Draft202012Validator, services: list[dict[str, Any]]) -> list[str]:
    return [
        f"{svc.get('name')}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for svc in services
        for e in validator.iter_errors(svc)
    ]


def test_schema_registry_resolves_references(service_validator: Draft202012Validator) -> None:
    bad = {
        "id": "not-a-uuid",
        "name": "x",
        "status": "open",
        "phones": [{"id": "0f8fad5b-d9cb-469f-a165-70867728950e"}],
    }
    messages = " ".join(e.message for e in service_validator.iter_errors(bad))
    assert "'open' is not one of" in messages
    assert "'number' is a required property" in messages  # resolved through phone.json
    assert "is not a 'uuid'" in messages


# --------------------------------------------------------------------------------------------- export


@pytest.mark.parametrize(("path", "code"), EXAMPLES)
def test_export_validates_against_the_official_schema(
    path: str, code: str, service_validator: Draft202012Validator
) -> None:
    services = json.loads(hsds.to_hsds_json(load(path, code)))
    assert services
    assert schema_errors(service_validator, services) == []


def test_export_shape() -> None:
    kaart = load(*EXAMPLES[0])
    services = hsds.to_hsds(kaart)
    loket = next(s for s in services if s["name"] == "Jongerenloket")
    assert loket["organization"]["name"] == "Gemeente Groningen"
    assert loket["fees_description"] == "Gratis"
    assert loket["assured_date"] == "2026-01-12"
    assert {a["taxonomy_term"]["code"] for a in loket["attributes"] if a["link_type"] == "leefgebied"} == {
        "papieren",
        "inkomen",
    }
    sal = loket["service_at_locations"][0]
    assert sal["location"]["addresses"][0]["postal_code"] == "9712 HN"
    weekly = [s for s in sal["schedules"] if s.get("freq") == "WEEKLY"]
    assert {(s["byday"], s["opens_at"], s["closes_at"]) for s in weekly} == {
        ("MO,TU,WE,FR", "09:00", "17:00"),
        ("TH", "09:00", "20:00"),
    }
    assert any(s.get("description") == "Gesloten op Nederlandse feestdagen" for s in sal["schedules"])
    all_ids = [v for s in services for v in _ids(s)]
    assert all(is_uuid(i) for i in all_ids)
    assert hsds.to_hsds(kaart) == services  # deterministic


def _ids(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == "id" or k.endswith("_id") if isinstance(v, str)] + [
            i for v in obj.values() for i in _ids(v)
        ]
    if isinstance(obj, list):
        return [i for v in obj for i in _ids(v)]
    return []


def test_past_midnight_and_24h_schedules_in_hsds() -> None:
    s = parse_schedule("vr 22:00-02:00; za 00:00-24:00", "2026-12-31 09:00-13:00")
    items = hsds.schedule_to_hsds(s, "0f8fad5b-d9cb-469f-a165-70867728950e")
    assert {(i.get("byday"), i["opens_at"], i["closes_at"]) for i in items if "opens_at" in i} == {
        ("FR", "22:00", "02:00"),
        ("SA", "00:00", "00:00"),
        (None, "09:00", "13:00"),
    }
    assert hsds.schedule_from_hsds(items, lambda m: None) == s


# ------------------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize(("path", "code"), EXAMPLES)
def test_json_round_trip(path: str, code: str) -> None:
    kaart = load(path, code)
    again = hsds.import_json(hsds.to_hsds_json(kaart), namespace=code, today=TODAY)
    assert again.report.ok, [str(i) for i in again.report.issues]
    assert again.kaart == kaart
    assert again.format == "hsds-json"


@pytest.mark.parametrize(("path", "code"), EXAMPLES)
def test_datapackage_round_trip(path: str, code: str) -> None:
    kaart = load(path, code)
    data = hsds.to_datapackage(kaart)
    again = parse_upload(data, "kaart.zip", namespace=code, today=TODAY)
    assert again.report.ok, [str(i) for i in again.report.issues]
    assert again.kaart == kaart
    assert again.format == "hsds-zip"


def test_datapackage_layout() -> None:
    data = hsds.to_datapackage(load(*EXAMPLES[1]))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        descriptor = json.loads(zf.read("datapackage.json"))
        assert descriptor["profile"] == "tabular-data-package"
        for res in descriptor["resources"]:
            header = next(csv.reader(io.StringIO(zf.read(res["path"]).decode("utf-8"))))
            assert header == [f["name"] for f in res["schema"]["fields"]]
        services = list(csv.DictReader(io.StringIO(zf.read("services.csv").decode("utf-8"))))
        assert all(s["status"] == "active" and is_uuid(s["organization_id"]) for s in services)


def test_datapackage_in_a_folder_and_without_descriptor() -> None:
    data = hsds.to_datapackage(load(*EXAMPLES[0]))
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for name in src.namelist():
            if name != "datapackage.json":
                dst.writestr(f"export/{name}", src.read(name))
    again = hsds.import_datapackage(buf.getvalue(), namespace="GM0014", today=TODAY)
    assert again.kaart == load(*EXAMPLES[0])


def test_datapackage_without_services_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("organizations.csv", "id,name\n")
    with pytest.raises(UploadError, match="geen services.csv"):
        hsds.import_datapackage(buf.getvalue())


# A strategy for kaarten built the way a gemeente would fill the template.
names = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyzABCDEZ éëï'&-,;\"=+@()/.0123456789")),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
free_text = st.text(
    alphabet=st.sampled_from(list("abcdeghijklmnoprstuvwz ABCéë€,.;:!?'\"=+-@\n<>&/()0123456789")), max_size=80
)
phones = st.sampled_from(
    ["113", "0800-0113", "020 123 45 67", "06 12 34 56 78", "14 020", "0111 12 34 56", "+3221234567"]
)
hours = st.sampled_from(
    [
        "",
        "ma-vr 09:00-17:00",
        "ma 09:00-12:00, 13:00-17:00; vr 22:00-02:00",
        "24/7",
        "op afspraak",
        "za-zo 00:00-24:00; ma 08:00-10:00",
    ]
)
exceptions = st.sampled_from(["", "feestdagen gesloten", "2026-12-25 gesloten; 2026-12-31 09:00-13:00"])
TAX = load_taxonomy()


@st.composite
def kaart_rows_strategy(draw: st.DrawFn) -> list[dict[str, str]]:
    orgs = draw(st.lists(names, min_size=1, max_size=3, unique_by=str.casefold))
    locations = [
        {
            "locatie_id": f"L{i}" if draw(st.booleans()) else "",
            "locatienaam": draw(names),
            "straat": draw(st.sampled_from(["", "Grote Markt", "Laan van 40-45"])),
            "huisnummer": draw(st.sampled_from(["", "1", "12a", "3-H"])),
            "postcode": draw(st.sampled_from(["", "1234 AB", "9712 HN"])),
            "plaats": draw(st.sampled_from(["", "Groningen", "'s-Gravenhage"])),
            "provincie": draw(st.sampled_from(["", "Zuid-Holland"])),
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    rows = []
    for n in range(draw(st.integers(1, 6))):
        org_index = draw(st.integers(0, len(orgs) - 1))
        age_min = draw(st.one_of(st.none(), st.integers(0, 30)))
        age_max = draw(st.one_of(st.none(), st.integers(age_min or 0, 120)))
        service = {
            "organisatie_id": f"O{org_index}" if draw(st.booleans()) else "",
            "organisatie": orgs[org_index],
            "dienst_id": draw(st.sampled_from(["", f"D{n}", "0f8fad5b-d9cb-469f-a165-70867728950" + str(n)])),
            "dienst": f"{draw(names)} {n}",
            "omschrijving": draw(free_text),
            "voor_wie": draw(free_text),
            "leefgebieden": ", ".join(draw(st.lists(st.sampled_from(list(TAX.leefgebieden)), max_size=3))),
            "onderwerpen": ", ".join(draw(st.lists(st.sampled_from(list(TAX.topics)), max_size=3))),
            "minimum_leeftijd": "" if age_min is None else str(age_min),
            "maximum_leeftijd": "" if age_max is None else str(age_max),
            "kosten": draw(st.sampled_from(["", "gratis", "€ 5 per keer", "-"])),
            "aanmelden": draw(free_text),
            "email": draw(st.sampled_from(["", "info@example.nl"])),
            "website": draw(st.sampled_from(["", "https://www.example.nl/a?b=c"])),
            "melding": draw(free_text),
            "gecontroleerd_op": draw(st.sampled_from(["", "2026-01-31"])),
            "gecontroleerd_door": draw(st.sampled_from(["", "kaart@example.nl"])),
        }
        places = draw(st.lists(st.sampled_from(range(len(locations))), unique=True, max_size=2)) if locations else []
        if not places or draw(st.booleans()):
            places = [-1, *places]
        for p in places:
            row = dict(service)
            if p >= 0:
                row.update(locations[p])
            row["telefoon"] = "; ".join(draw(st.lists(phones, max_size=2, unique=True)))
            row["whatsapp"] = draw(st.sampled_from(["", "06 12 34 56 78"]))
            row["openingstijden"] = draw(hours)
            row["uitzonderingen"] = draw(exceptions)
            rows.append(row)
    return rows


def kaart_from_rows(rows: list[dict[str, str]]) -> Kaart:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    table = Table(header=cols, rows=[(i + 2, [r.get(c, "") for c in cols]) for i, r in enumerate(rows)])
    return parse_table(table, namespace="GM9999", today=TODAY).kaart


@given(kaart_rows_strategy())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trips_for_generated_kaarten(rows: list[dict[str, str]]) -> None:
    kaart = kaart_from_rows(rows)
    assert hsds.import_json(hsds.to_hsds_json(kaart), namespace="GM9999", today=TODAY).kaart == kaart
    assert hsds.import_datapackage(hsds.to_datapackage(kaart), namespace="GM9999", today=TODAY).kaart == kaart
    for excel in (False, True):
        assert parse_upload(kaart_to_csv(kaart, excel=excel), "k.csv", namespace="GM9999", today=TODAY).kaart == kaart


@given(kaart_rows_strategy())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_exports_validate(rows: list[dict[str, str]]) -> None:
    validator = _validator_or_none()
    assert validator is not None, "the vendored HSDS schemas are missing"
    assert schema_errors(validator, hsds.to_hsds(kaart_from_rows(rows))) == []


_VALIDATOR: list[Draft202012Validator] = []


def _validator_or_none() -> Draft202012Validator | None:
    if not _VALIDATOR and (SCHEMA_DIR / "service.json").exists():
        resources = [
            (BASE + p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT202012))
            for p in SCHEMA_DIR.glob("*.json")
            if p.name != "openapi.json"
        ]
        _VALIDATOR.append(
            Draft202012Validator(
                {"$ref": BASE + "service.json"},
                registry=Registry().with_resources(resources),
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
        )
    return _VALIDATOR[0] if _VALIDATOR else None


# ------------------------------------------------------------------------------------ foreign input


def _add_noise(obj: Any, depth: int = 0) -> Any:
    if isinstance(obj, dict):
        out = {k: _add_noise(v, depth + 1) for k, v in obj.items()}
        out["x_unknown_field"] = {"nested": [1, 2, {"deep": True}]}
        out["languages"] = [{"id": "0f8fad5b-d9cb-469f-a165-70867728950e", "name": "Nederlands", "code": "nl"}]
        out["metadata"] = []
        return out
    if isinstance(obj, list):
        return [_add_noise(v, depth + 1) for v in obj]
    return obj


def test_unknown_fields_are_ignored() -> None:
    kaart = load(*EXAMPLES[2])
    noisy = _add_noise(hsds.to_hsds(kaart))
    page = {"total_items": len(noisy), "page_number": 1, "contents": noisy}
    result = hsds.import_json(json.dumps(page).encode(), namespace="GM0518", today=TODAY)
    assert result.report.ok
    assert result.kaart == kaart


def test_foreign_hsds_file() -> None:
    doc = {
        "services": [
            {
                "id": "svc-1",
                "name": "Schuldhulpmaatje",
                "status": "active",
                "description": "<p>Hulp bij <b>schulden</b></p>",
                "url": "www.schuldhulpmaatje.example",
                "minimum_age": 18.0,
                "organization": {"id": "org-1", "name": "Stichting Maatje", "description": "x"},
                "attributes": [
                    {"taxonomy_term": {"taxonomy": "startklaar-onderwerpen", "code": "schulden"}},
                    {"taxonomy_term": {"taxonomy": "OpenEligibility", "code": "1102"}},
                ],
                "phones": [{"number": "+31 20 123 4567", "type": "voice"}, {"number": "12", "type": "fax"}],
                "schedules": [
                    {"freq": "WEEKLY", "byday": "MO,WE", "opens_at": "09:00:00", "closes_at": "17:00:00+01:00"},
                    {"freq": "MONTHLY", "byday": "1MO", "opens_at": "10:00", "closes_at": "12:00"},
                    {"valid_from": "2026-12-25", "description": "Gesloten"},
                ],
                "service_at_locations": [
                    {
                        "location_id": "loc-1",
                        "location": {
                            "id": "loc-1",
                            "name": "Buurthuis",
                            "addresses": [{"address_1": "Dorpsstraat 5b", "postal_code": "1234ab", "city": "Ergens"}],
                        },
                    }
                ],
            },
            {
                "id": "svc-2",
                "name": "Oud",
                "status": "defunct",
                "organization": {"id": "org-1", "name": "Stichting Maatje"},
            },
            "geen object",
        ]
    }
    result = hsds.import_json(json.dumps(doc), namespace="GM0363", today=TODAY)
    kaart, report = result.kaart, result.report
    assert [s.name for s in kaart.services] == ["Schuldhulpmaatje"]
    svc = kaart.services[0]
    assert svc.ref == "svc-1" and is_uuid(svc.id)
    assert svc.description == "Hulp bij schulden"
    assert svc.url == "https://www.schuldhulpmaatje.example"
    assert svc.minimum_age == 18
    assert svc.topics == ("schulden",) and svc.leefgebieden == ("inkomen",)
    assert [p.number for p in svc.phones] == ["020 123 45 67"]
    assert svc.schedule is not None
    assert format_week(svc.schedule) == "ma 09:00-17:00; wo 09:00-17:00"
    assert format_exceptions(svc.schedule) == "2026-12-25 gesloten"
    address = kaart.locations[0].address
    assert address is not None and (address.street, address.house_number, address.postal_code) == (
        "Dorpsstraat",
        "5b",
        "1234 AB",
    )
    messages = [str(i) for i in report.issues]
    assert any("Dienst 1 ('Schuldhulpmaatje')" in m and "freq MONTHLY" in m for m in messages)
    assert any("Dienst 2 ('Oud')" in m and "defunct" in m for m in messages)
    assert "Dienst 3: is geen object; deze dienst is overgeslagen." in messages
    assert any("kolom description: hier stond HTML-opmaak in" in m for m in messages)
    assert not report.ok  # the non-object entry is an error


def test_single_service_object_and_errors_point_at_hsds_fields() -> None:
    result = hsds.import_json(
        {"id": "x", "name": "Loket", "organization": {"name": "Gemeente"}, "email": "fout@", "status": "active"},
        today=TODAY,
    )
    assert "Dienst 1 ('Loket'), kolom email: 'fout@' is geen e-mailadres." in [str(i) for i in result.report.errors]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{niet json", "geen geldige JSON"),
        (b'{"hallo": 1}', "geen HSDS-diensten"),
        (b"[" * 100_000 + b"]" * 100_000, "te diep genest"),
        ("[]".encode("utf-16"), "UTF-8"),
    ],
)
def test_bad_json_is_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(UploadError) as info:
        hsds.import_json(data)
    assert fragment in info.value.message


def test_round_trip_preserves_own_ids_and_derived_ids() -> None:
    kaart = load(*EXAMPLES[0])
    assert any(s.ref for s in kaart.services) and any(o.ref for o in kaart.organizations)
    exported = hsds.to_hsds(kaart)
    # a system that re-imports our export without namespace still gets the same kaart: the UUIDs travel along
    assert hsds.import_json(copy.deepcopy(exported), today=TODAY).kaart == kaart
