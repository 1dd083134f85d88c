from __future__ import annotations

from sqlmodel import Field, SQLModel


class Gemeente(SQLModel, table=True):
    """One of the 342 Dutch municipalities (CBS reference data, synced from sociale_kaart/gemeenten.csv)."""

    __tablename__ = "gemeente"

    code: str = Field(primary_key=True, max_length=6)  # CBS code, "GM0518"
    naam: str = Field(max_length=100)  # official CBS name, "'s-Gravenhage"
    weergavenaam: str = Field(max_length=100)  # the name people use, "Den Haag"
    # Folded names and aliases joined by "|", for accent- and case-insensitive search.
    search_key: str = Field(max_length=400)


class GemeenteOut(SQLModel):
    code: str
    naam: str
    weergavenaam: str
