"""The mirrored-field list the reconciliation compares agrees with the fields the workflows
write: a record built by the workflows' own field builders holds, in every listed field, the
value the list expects from the same HubSpot properties."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator_core.policy import LoadedPolicy
from orchestrator_core.reconciliation.mirrors import accounts_mirror, contacts_mirror
from orchestrator_defs.workflows.company_intake.airtable_fields import account_fields
from orchestrator_defs.workflows.contact_role_mapping.airtable_fields import contact_fields
from resources.enrichment.enricher import RuleEnricher

COMPANY = {
    "name": "Northwind Traders",
    "domain": "northwind.example",
    "website": "https://northwind.example",
    "industry": "COMPUTER_SOFTWARE",
    "annualrevenue": "48000000",
    "type": "CUSTOMER",
    "lifecyclestage": "opportunity",
    "country": "United States",
    "city": "Seattle",
    "hubspot_owner_id": "101",
}
CONTACT = {
    "firstname": "Camille",
    "lastname": "Dubois",
    "email": "camille@northwind.example",
    "jobtitle": "CFO",
    "company": "Northwind Traders",
    "hubspot_owner_id": "101",
}


def test_every_accounts_field_compared_is_the_one_the_intake_writes(policy: LoadedPolicy) -> None:
    spec = accounts_mirror(policy.policy)
    intake = policy.policy.company_intake
    for properties in (COMPANY, {**COMPANY, "annualrevenue": "", "city": None, "website": ""}):
        fields = account_fields(
            company_id="9001",
            properties=properties,
            enrichment=RuleEnricher().enrich_company(properties, review_threshold=0.5),
            associations={},
            type_property=intake.company_type_property,
            lifecycle_property=intake.lifecycle_property,
            warnings=[],
            synced_at=datetime.now(UTC),
        )
        for name, value in spec.expected(properties).items():
            written = fields[name]
            # Airtable stores "" as no value, which is what `expected` says
            assert value == (None if written == "" else written), name
        assert fields[spec.key_field] == "9001"


def test_every_contacts_field_compared_is_the_one_the_mapping_writes() -> None:
    spec = contacts_mirror()
    fields = contact_fields(
        contact_id="7001",
        name="Camille Dubois",
        properties=dict(CONTACT),
        inference=RuleEnricher().infer_title("CFO", review_threshold=0.5),
        role="finance_lead",
        company_id="9001",
        account_record_id=None,
        synced_at=datetime.now(UTC),
    )
    for name, value in spec.expected(CONTACT).items():
        assert fields[name] == value, name
    assert fields[spec.key_field] == "7001"
