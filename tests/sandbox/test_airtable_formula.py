"""Which formulas the sandbox answers through its index: lookups by key, and nothing else."""

from __future__ import annotations

import pytest
from pyairtable.formulas import AND, EQ, OR, Field, to_formula_str

from sandbox.vendors.airtable_formula import equality_terms


def test_a_lookup_by_key_is_its_field_and_values() -> None:
    assert equality_terms(to_formula_str(EQ(Field("Key"), "a"))) == ("Key", ["a"])
    lookup = OR(*(EQ(Field("HubSpot ID"), key) for key in ("1", "it's", "3")))
    assert equality_terms(to_formula_str(lookup)) == ("HubSpot ID", ["1", "it's", "3"])
    assert equality_terms("{Employees} = 12.5") == ("Employees", [12.5])


@pytest.mark.parametrize(
    "formula",
    [
        to_formula_str(AND(EQ(Field("A"), "1"), EQ(Field("B"), "2"))),
        to_formula_str(OR(EQ(Field("A"), "1"), EQ(Field("B"), "2"))),  # two fields
        "{A}=''",  # an empty field equals ''
        "{A}!='1'",
        "OR({A}='1',)",
        "OR({A}='1'",
        "LOWER({A})='x'",
        "{A}='1' & 'x'",
        "",
    ],
)
def test_anything_else_reads_the_whole_table(formula: str) -> None:
    assert equality_terms(formula) is None
