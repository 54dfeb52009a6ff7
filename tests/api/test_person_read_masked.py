"""The counter's masked person read (ID-5): nothing in it gives the citizen ID number back."""

from __future__ import annotations

from sscard.staff.roles import Role
from tests.api.conftest import bearer
from tests.people.factories import new_id_number

EVIDENCE = "居民身份证原件"


# rule ID-5: region (digits 1-6) + full birth date (7-14) + the masked number's last four (15-18) would be
# the whole ID: the masked read carries the birth year only, in every counter answer that returns it
def test_person_read_has_the_birth_year_only(client, staff_token) -> None:
    number = new_id_number(region="110105")
    clerk = bearer(staff_token(Role.COUNTER_CLERK, "110000"))
    created = client.post("/api/v1/counter/persons", headers=clerk, json={"id_number": number, "name": "欧阳明"})
    assert created.status_code == 201, created.text
    person_id = created.json()["person_id"]
    answers = [
        created,
        client.get(f"/api/v1/counter/persons/{person_id}", headers=clerk),
        client.post(
            "/api/v1/counter/persons/lookup", headers=clerk, json={"id_number": number, "evidence": "居民身份证原件"}
        ),
        client.post(f"/api/v1/counter/persons/{person_id}/status", headers=clerk, json={"status": "retired"}),
    ]
    birth = number[6:14]
    for r in answers:
        assert r.status_code in (200, 201), r.text
        body = r.json()
        assert body["birth_year"] == int(birth[:4]) and "birth_date" not in body
        assert body["id_number_masked"].endswith(number[-4:])
        for shown in (birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}", number):
            assert shown not in r.text
    schema = client.get("/api/openapi.json", headers=clerk).json()["components"]["schemas"]["PersonRead"]["properties"]
    assert "birth_year" in schema and "birth_date" not in schema
