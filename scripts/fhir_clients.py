"""An integrator's everyday FHIR tasks with the clients integrators use: PyPI
`fhirclient` (SMART on FHIR, R4 models that parse every answer) and `fhirpy`, against a
demo region (scripts/fhir-clients.sh starts it and passes the tokens).

Usage: GONGTI_FHIR_BASE=… GONGTI_DOCTOR_TOKEN=… GONGTI_SPECIALIST_TOKEN=…
       GONGTI_HOSPITAL=Organization/… python fhir_clients.py
The family doctor first refers one of the patients up through the JSON API (the demo
starts with no referral), so the hospital has one to find.
Prints one line per task and exits non-zero on the first that fails.
"""
import os
import sys

from fhirclient import client as smart_client
from fhirclient.models.bundle import Bundle, BundleEntry, BundleEntryRequest
from fhirclient.models.capabilitystatement import CapabilityStatement
from fhirclient.models.condition import Condition
from fhirclient.models.encounter import Encounter
from fhirclient.models.episodeofcare import EpisodeOfCare
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from fhirclient.models.servicerequest import ServiceRequest
from fhirpy import SyncFHIRClient

BASE = os.environ["GONGTI_FHIR_BASE"]
ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"
LOINC_BP = "http://loinc.org|85354-9"


def smart(token):
    """A fhirclient server signed in with a bearer token."""
    c = smart_client.FHIRClient(settings={"app_id": "gongti-tasks", "api_base": BASE})
    c.server.session.headers["Authorization"] = f"Bearer {token}"
    return c.server


def pyclient(token):
    return SyncFHIRClient(BASE, authorization=f"Bearer {token}")


def search(server, cls, **params):
    """All pages of a search, each answer parsed by the R4 models."""
    return list(cls.where(struct=params).perform_resources_iter(server))


DONE = []


def task(name):
    def wrap(f):
        def run(*args):
            try:
                out = f(*args)
            except Exception as error:  # noqa: BLE001 — report any failure with its task
                print(f"FAIL {name}: {type(error).__name__}: {error}")
                sys.exit(1)
            DONE.append(name)
            print(f"ok   {name}")
            return out

        return run

    return wrap


@task("fhirclient parses the CapabilityStatement")
def capability(server):
    cs = CapabilityStatement.read_from("metadata", server)
    types = {r.type for r in cs.rest[0].resource}
    assert {"Patient", "Observation", "ServiceRequest", "Appointment"} <= types, types
    return cs


@task("find the institution's patients with conditions (fhirpy, paged)")
def patients_with_conditions(py):
    enrolled = []
    for p in py.resources("Patient").search().limit(50).fetch_all():
        conditions = py.resources("Condition").search(patient=f"Patient/{p.id}").fetch()
        if conditions:
            enrolled.append((p, conditions))
        if len(enrolled) >= 3:
            break
    assert enrolled, "no patient with a Condition"
    return enrolled


@task("search by identifier with its system (both clients)")
def by_identifier(server, py, patient):
    value = next(i.value for i in patient.identifier if i.system == ID_SYSTEM)
    found = search(server, Patient, identifier=f"{ID_SYSTEM}|{value}")
    assert [p.id for p in found] == [patient.id], found
    again = py.resources("Patient").search(identifier=value).fetch()
    assert [p.id for p in again] == [patient.id], again


@task("search by name and birth-date range (fhirpy)")
def by_name_and_birthdate(py, patient):
    family = patient.name[0].family
    born = patient.birthDate.isostring
    found = (
        py.resources("Patient")
        .search(name=family, birthdate__ge=born[:4], birthdate__le=f"{born[:4]}-12-31")
        .fetch_all()
    )
    assert patient.id in [p.id for p in found], (family, born)
    for p in found:
        assert p.birthDate[:4] == born[:4], p.birthDate
        assert p.name[0].text.startswith(family), p.name[0].text


@task("a patient's conditions (fhirclient models)")
def conditions(server, patient):
    found = search(server, Condition, patient=patient.id)
    assert found and all(c.subject.reference == f"Patient/{patient.id}" for c in found)
    assert all(c.clinicalStatus.coding[0].code in ("active", "inactive") for c in found)
    return found


@task("BP panels with systolic and diastolic components")
def bp_panels(server, patient):
    found = search(server, Observation, patient=patient.id, code=LOINC_BP)
    for o in found:
        codes = {c.code.coding[0].code for c in o.component}
        assert codes == {"8480-6", "8462-4"}, codes
        assert o.component[0].valueQuantity.code == "mm[Hg]"
    return found


@task("encounters newest first, each following its EpisodeOfCare")
def encounters(server, py, patient):
    found = py.resources("Encounter").search(patient=patient.id).sort("-date").fetch_all()
    days = [e.period.start for e in found]
    assert days == sorted(days, reverse=True), days
    for e in found[:3]:
        episode = EpisodeOfCare.read(e.episodeOfCare[0].reference.split("/")[1], server)
        assert episode.patient.reference == f"Patient/{patient.id}"
    return found


@task("an observation's encounter reference resolves")
def observation_to_encounter(server, observations):
    with_encounter = [o for o in observations if o.encounter is not None]
    for o in with_encounter[:3]:
        e = o.encounter.resolved(Encounter)
        assert e is not None and e.id == o.encounter.reference.split("/")[1]


@task("paging: every page followed adds up to Bundle.total")
def paging(py):
    total = py.resources("Patient").search().count()
    fetched = py.resources("Patient").search().limit(37).fetch_all()
    assert len(fetched) == total, (len(fetched), total)
    assert len({p.id for p in fetched}) == total


@task("the hospital's incoming referrals and their patients")
def incoming_referrals(server, hospital):
    found = search(server, ServiceRequest, performer=hospital)
    assert found, "no referral to the hospital in the demo"
    for r in found[:3]:
        assert r.performer[0].reference == hospital
        p = r.subject.resolved(Patient)
        assert p is not None and p.id == r.subject.reference.split("/")[1]
    return found


@task("a referred patient's referrals and appointments")
def referrals_and_appointments(py, referrals):
    patient = referrals[0].subject.reference
    mine = py.resources("ServiceRequest").search(patient=patient).fetch_all()
    assert referrals[0].id in [r.id for r in mine]
    for a in py.resources("Appointment").search(patient=patient).include("Appointment", "slot").fetch_all():
        assert a.resourceType == "Appointment"


def id_number(birth, sequence):
    """A valid GB 11643 ID number born on `birth` (YYYYMMDD) in 和平区."""
    body = f"120101{birth}{sequence:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    return body + check


@task("a transaction Bundle built with fhirclient's models brings a resident and an enrolment in")
def transaction_import(server):
    import datetime
    import random

    number = id_number("19540317", random.randint(500, 999))
    patient = Patient({
        "identifier": [{"system": ID_SYSTEM, "value": number}],
        "name": [{"use": "official", "family": "欧阳", "given": ["建"]}],
    })
    began = (datetime.date.today() - datetime.timedelta(days=3 * 365)).isoformat()
    condition = Condition({
        "subject": {"reference": "urn:uuid:7d0c2e8a-1111-4000-8000-000000000001"},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
        "onsetDateTime": began,
        "recordedDate": began,
    })
    bundle = Bundle({"type": "transaction"})
    bundle.entry = []
    for url, resource, ty in [
        ("urn:uuid:7d0c2e8a-1111-4000-8000-000000000001", patient, "Patient"),
        ("urn:uuid:7d0c2e8a-1111-4000-8000-000000000002", condition, "Condition"),
    ]:
        entry = BundleEntry({"fullUrl": url})
        entry.resource = resource
        entry.request = BundleEntryRequest({"method": "POST", "url": ty})
        bundle.entry.append(entry)
    bundle.entry[0].request.ifNoneExist = f"identifier={ID_SYSTEM}|{number}"
    answer = server.post_json("", bundle.as_json())
    assert answer.status_code == 200, answer.text
    response = Bundle(answer.json())
    statuses = [e.response.status for e in response.entry]
    assert statuses == ["201 Created", "201 Created"], statuses
    created = response.entry[0].response.location.split("/")[1]
    found = search(server, Condition, patient=created)
    assert [c.as_json()["recordedDate"] for c in found] == [began], [c.as_json() for c in found]
    # The same Bundle again: the resident is found, and the programme is already active.
    import requests

    try:
        server.post_json("", bundle.as_json())
        raise AssertionError("the same enrolment was accepted twice")
    except requests.HTTPError as refused:
        assert refused.response.status_code == 409, refused.response.text
        outcome = refused.response.json()
        assert outcome["resourceType"] == "OperationOutcome", outcome
    return created


@task("a laboratory's HbA1c and fasting glucose, built with fhirclient's models, come in by transaction and are found by category")
def lab_results(server, resident):
    import datetime
    import random

    collected = (datetime.date.today() - datetime.timedelta(days=14)).isoformat()
    run = random.randint(100000, 999999)
    bundle = Bundle({"type": "transaction"})
    bundle.entry = []
    for n, (code, value, unit) in enumerate([("4548-4", 6.6, "%"), ("14771-0", 6.1, "mmol/L")]):
        observation = Observation({
            "status": "final",
            "identifier": [{"system": "urn:example:lis", "value": f"LIS-{run}-{n}"}],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{resident}"},
            "effectiveDateTime": collected,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        })
        entry = BundleEntry({"fullUrl": f"urn:uuid:7d0c2e8a-2222-4000-8000-00000000000{n}"})
        entry.resource = observation
        entry.request = BundleEntryRequest({"method": "POST", "url": "Observation"})
        bundle.entry.append(entry)
    answer = server.post_json("", bundle.as_json())
    assert answer.status_code == 200, answer.text
    statuses = [e.response.status for e in Bundle(answer.json()).entry]
    assert statuses == ["201 Created", "201 Created"], statuses
    found = search(server, Observation, patient=resident, category="laboratory")
    codes = sorted(o.code.coding[0].code for o in found)
    assert codes == ["14771-0", "4548-4"], codes
    assert all(o.as_json()["effectiveDateTime"] == collected for o in found), [o.as_json() for o in found]
    assert all(o.identifier[0].system == "urn:example:lis" for o in found), [o.as_json() for o in found]


@task("fhirpy posts a batch Bundle and reads each entry's answer")
def batch_import(py):
    number = id_number("19630921", 77)
    answer = py.execute("", method="post", data={
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Patient", "identifier": [{"system": ID_SYSTEM, "value": number}], "name": [{"text": "钱学"}]},
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": f"identifier={ID_SYSTEM}|{number}"}},
            {"resource": {"resourceType": "Patient", "identifier": [{"system": ID_SYSTEM, "value": "not-a-number"}], "name": [{"text": "错"}]},
             "request": {"method": "POST", "url": "Patient"}},
        ],
    })
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses[0] in ("201 Created", "200 OK") and statuses[1].startswith("422"), statuses
    patient = py.reference("Patient", answer["entry"][0]["response"]["location"].split("/")[1]).to_resource()
    assert patient["identifier"][0]["value"] == number, patient


def refer(doctor, enrolled):
    """Set-up through the JSON API, as the family doctor would: a one-click referral
    of a hypertensive patient up to the community's hospital."""
    import requests

    api = BASE.rsplit("/fhir", 1)[0] + "/api/v1"
    for p, found in enrolled:
        codes = {c.code.coding[0].code for c in found}
        if not any(code.startswith("I1") for code in codes):
            continue
        r = requests.post(
            f"{api}/residents/{p.id}/referrals",
            headers={"Authorization": f"Bearer {doctor}"},
            json={"source": "manual", "disease": "hypertension", "reason": "联合用药血压仍不达标"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return
    raise AssertionError("no hypertensive patient to refer")


@task("the cloud pharmacy: a delivered prescription, its fill and its 门特 settlement")
def cloud_pharmacy(server, py, token):
    """The demo's story (`nhdoctor`'s patient): the prescription's lines parsed by the R4
    models with their review Task, the dispenses, the Claim and the bureau's answer."""
    import requests

    from fhirclient.models.claimresponse import ClaimResponse
    from fhirclient.models.medicationdispense import MedicationDispense
    from fhirclient.models.medicationrequest import MedicationRequest

    api = BASE.rsplit("/fhir", 1)[0] + "/api/v1"
    mine = requests.get(f"{api}/prescriptions", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    mine.raise_for_status()
    # The story's prescription, written in an online visit and delivered (the centre's
    # other patients' clinic prescriptions are waiting or on their way).
    delivered = [
        p for p in mine.json()["items"] if p["status"] == "dispensed" and p["channel"] == "online"
    ]
    assert delivered, "the demo's story has no delivered prescription"
    rx = delivered[0]
    patient = f"Patient/{rx['resident']['id']}"
    lines = search(server, MedicationRequest, patient=patient, status="completed")
    assert any(m.groupIdentifier.value == str(rx["id"]) for m in lines), [m.id for m in lines]
    first = MedicationRequest.read(f"{rx['id']}-1", server)
    assert first.intent == "order" and first.dosageInstruction[0].timing.repeat.frequency >= 1
    dispenses = search(server, MedicationDispense, patient=patient)
    assert dispenses and all(d.status == "completed" for d in dispenses), dispenses
    answers = search(server, ClaimResponse, patient=patient, status="active")
    assert answers and answers[0].outcome == "complete"
    review = py.resources("Task").search(patient=patient).fetch_all()
    assert any(t["id"] == f"review-{rx['id']}" and t["status"] == "completed" for t in review)
    issued = requests.get(
        f"{BASE}/MedicationRequest/{rx['id']}-1/_history/1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert MedicationRequest(issued.json()).status == "on-hold", issued.text
    known = py.resources("MedicationKnowledge").search(**{"ingredient-code": "metformin"}).fetch_all()
    assert known and known[0]["cost"][0]["cost"]["currency"] == "CNY", known


def main():
    doctor, specialist = os.environ["GONGTI_DOCTOR_TOKEN"], os.environ["GONGTI_SPECIALIST_TOKEN"]
    server, py = smart(doctor), pyclient(doctor)
    capability(server)
    enrolled = patients_with_conditions(py)
    first = Patient.read(enrolled[0][0].id, server)
    by_identifier(server, py, first)
    by_name_and_birthdate(py, first)
    with_bp = None
    for p, _ in enrolled:
        patient = Patient.read(p.id, server)
        conditions(server, patient)
        panels = bp_panels(server, patient)
        if panels:
            with_bp = (patient, panels)
    assert with_bp, "no patient with a BP panel"
    encounters(server, py, with_bp[0])
    observation_to_encounter(server, with_bp[1])
    paging(py)
    imported = transaction_import(server)
    lab_results(server, imported)
    batch_import(py)
    refer(doctor, enrolled)
    hospital_server = smart(specialist)
    referrals = incoming_referrals(hospital_server, os.environ["GONGTI_HOSPITAL"])
    referrals_and_appointments(pyclient(specialist), referrals)
    story = os.environ["GONGTI_STORY_TOKEN"]
    cloud_pharmacy(smart(story), pyclient(story), story)
    print(f"{len(DONE)} tasks done")


if __name__ == "__main__":
    main()
