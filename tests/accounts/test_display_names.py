"""Display names (security review, issue 11): the name a jongere or mentor shows to others may not carry
control, bidi or invisible characters, nor pass for Startklaar itself or its beheer. 422 with a Dutch message.
"""

from __future__ import annotations

import unicodedata

import pytest
from fastapi.testclient import TestClient

from backend.accounts.models import AccountCreate, clean_display_name, shown_name
from tests.accounts.helpers import PASSWORD

INVISIBLE = "Je naam mag geen onzichtbare tekens of tekens die de tekst omdraaien bevatten. Typ je naam opnieuw."
PRODUCT = "Deze naam lijkt op Startklaar of op de beheerder. Kies een andere naam."
STACKED = "Je naam heeft te veel tekens boven of onder elkaar. Typ je naam opnieuw."

REFUSED_INVISIBLE = [
    "Sam\u202eraalktrats",  # RIGHT-TO-LEFT OVERRIDE: shows as "Samstartklaar" reversed
    "\u202dSam",  # LEFT-TO-RIGHT OVERRIDE
    "Sam\u2066x\u2069",  # isolates
    "Sam\u200fx",  # RIGHT-TO-LEFT MARK
    "\u061cSam",  # ARABIC LETTER MARK
    "Sa\u200bm",  # ZERO WIDTH SPACE
    "Sa\u200cm",  # ZERO WIDTH NON-JOINER between Latin letters
    "Sa\u2060m",  # WORD JOINER
    "\ufeffSam",  # BOM
    "Sam\u00ad",  # SOFT HYPHEN
    "Sam\u0000",  # NUL
    "Sam\nJansen",  # newline (Cc)
    "Sam\tJansen",
    "Sam\x1b[31m",  # ESC
    "Sam\u0085",  # NEL (Cc)
    "Sam\u2028Jansen",  # LINE SEPARATOR (Zl)
    "Sam\u2029Jansen",  # PARAGRAPH SEPARATOR (Zp)
    "Sam\ue000",  # private use (Co)
    "Sam\U000f0000",  # private use, plane 15
    "Sam\U000e0041",  # TAG LATIN CAPITAL LETTER A (Cf)
    "Sam\u0378",  # unassigned (Cn)
    "Sam\U0010ffff",  # noncharacter (Cn)
    "\u200d\u200d",  # only joiners
]
REFUSED_PRODUCT = [
    "Startklaar",
    "startklaar",
    "STARTKLAAR",
    "Start klaar",
    "Start-Klaar",
    "S t a r t k l a a r",
    "Team Startklaar",
    "Startklaar Team",
    "Startklaar-beheer",
    "5tartk1aar",  # digits for letters
    "Stаrtklааr",  # Cyrillic а (U+0430)
    "Ѕtartklaar",  # Cyrillic Ѕ (U+0405)
    "Ｓｔａｒｔｋｌａａｒ",  # fullwidth (NFKC)
    "Stártklâär",  # accents
    "Beheer",
    "beheerder",
    "Admin",
    "ADMIN",
    "Аdmin",  # Cyrillic А
    "Administrator",
    "Jan (beheer)",
    "admin.jan",
]
ALLOWED = [
    "Sam",
    "Anne-Fleur",
    "Zoë",
    "Chloé",
    "Mentor Anja",
    "JIM Joost",
    "Mohammed",
    "محمد",  # Arabic, right to left without any control character
    "יוסף",  # Hebrew
    "Łukasz",
    "Ağca",
    "Nguyễn",
    "ศรี",  # Thai with combining vowel marks
    "Юлия",  # Cyrillic
    "李小龍",
    "Sam 😊",
    "Sam 👩\u200d💻",  # emoji ZWJ sequence: the joiner between two emoji is fine
    "Sam 🏳\ufe0f\u200d🌈",
    "Sam 👍🏽",
    "D'Angelo",
    "Administratie Kees",  # not 'admin' as a word
    "Badminton Bas",
    "Klaar",
    "Start",
]


@pytest.mark.parametrize("name", REFUSED_INVISIBLE)
def test_control_bidi_and_invisible_characters_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="onzichtbare tekens"):
        clean_display_name(name)


@pytest.mark.parametrize("name", REFUSED_PRODUCT)
def test_names_that_pass_for_the_product_or_its_beheer_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="lijkt op Startklaar"):
        clean_display_name(name)


@pytest.mark.parametrize("name", ALLOWED)
def test_ordinary_names_in_any_script_are_allowed(name: str) -> None:
    assert clean_display_name(name) == unicodedata.normalize("NFC", name)


def test_names_are_nfc_normalised_and_spaces_tidied() -> None:
    decomposed = "Zoe\u0308"  # e + COMBINING DIAERESIS
    assert clean_display_name(decomposed) == "Zoë"
    assert clean_display_name("  Anne \u00a0  Fleur  ") == "Anne Fleur"
    assert clean_display_name("   ") is None


def test_stacked_combining_marks_are_refused() -> None:
    with pytest.raises(ValueError, match="boven of onder elkaar"):
        clean_display_name("Sa" + "\u0301\u0302\u0303\u0304\u0305" + "m")
    with pytest.raises(ValueError, match="boven of onder elkaar"):
        clean_display_name("\u0301Sam")  # starts with a combining mark


def test_schema_validator_gives_the_dutch_message() -> None:
    with pytest.raises(ValueError, match="omdraaien"):
        AccountCreate(username="sam", password=PASSWORD, display_name="Sam\u202e")


@pytest.mark.parametrize(
    ("name", "message"),
    [("Sam\u202eraalktrats", INVISIBLE), ("Startklaar", PRODUCT), ("Sa\u0301\u0302\u0303\u0304\u0305m", STACKED)],
)
def test_signup_with_a_bad_display_name_is_422_in_dutch(client: TestClient, name: str, message: str) -> None:
    r = client.post("/api/accounts", json={"username": "naamtest", "password": PASSWORD, "display_name": name})
    assert r.status_code == 422, r.text
    assert r.json()["fields"]["display_name"] == message
    ok = client.post("/api/accounts", json={"username": "naamtest", "password": PASSWORD, "display_name": "Zoë"})
    assert ok.status_code == 201 and ok.json()["account"]["display_name"] == "Zoë"


def test_a_stored_name_is_shown_without_invisible_characters() -> None:
    """Names stored before this check, or taken from an organisation's login (OpenID Connect), are cleaned
    when shown to someone else."""
    assert shown_name("Sam\u202e\u200bJansen\u0000") == "SamJansen"
    assert shown_name("Anne\u2028Fleur") == "Anne Fleur"
    assert shown_name("Startklaar") is None
    assert shown_name("\u202e\u200b") is None
    assert shown_name(None) is None
    assert shown_name("Sam 👩\u200d💻") == "Sam 👩\u200d💻"


@pytest.mark.parametrize("username", ["startklaar", "st4rtklaar", "admin", "beheerder", "team.startklaar"])
def test_a_username_that_passes_for_the_product_or_its_staff_is_refused_at_sign_up(
    client: TestClient, username: str
) -> None:
    r = client.post("/api/accounts", json={"username": username, "password": "lang-genoeg-42"})
    assert r.status_code == 422
    assert "lijkt op Startklaar" in r.json()["fields"]["username"]
