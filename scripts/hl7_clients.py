"""A laboratory's system sending results to Gongti over MLLP with python-hl7 (PyPI
`hl7`): its `mllp_send` command and its `hl7.client.MLLPClient`, against a demo region
(scripts/hl7-clients.sh starts it with --mllp-listen and passes the tokens) — and
receiving the demo's laboratory orders (OML^O21) on python-hl7's MLLP server, which
the demo sends to because hl7-clients.sh names it with --hl7-send.

The laboratory is the specialist's hospital (its code in MSH-4); the patient is one of
the family doctor's, found by its ID number through FHIR. Checks each answer (MSA-1,
MSA-2) and that the results reach the patient's record as FHIR Observations.
Prints one line per task and exits non-zero on the first that fails.
"""
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone

import hl7
import hl7.mllp
from hl7.client import MLLPClient

BASE = os.environ["GONGTI_BASE"]
PORT = int(os.environ["GONGTI_MLLP_PORT"])
ID_SYSTEM = "urn:oid:2.16.156.10011.1.3"


def get(path, token):
    req = urllib.request.Request(BASE + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def oru(control, facility, id_number, obx, charset="UNICODE UTF-8"):
    at = (datetime.now(timezone(timedelta(hours=8))) - timedelta(hours=1)).strftime("%Y%m%d%H%M%S+0800")
    segments = [
        f"MSH|^~\\&|LIS|{facility}|GONGTI|CLINIC|{at}||ORU^R01^ORU_R01|{control}|P|2.5.1||||||{charset}",
        f"PID|1||{id_number}^^^&2.16.156.10011.1.3&ISO^ID||张^三",
        f"OBR|1|PL-{control}|FL-{control}|24323-8^生化^LN|||{at}",
    ] + obx
    return "\r".join(segments) + "\r"


def answer(ack_text):
    msg = hl7.parse(ack_text)
    msa = msg.segment("MSA")
    return str(msa[1]), str(msa[2]), str(msa[3]) if len(msa) > 3 else ""


def task(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}")
    if not ok:
        sys.exit(1)


RECEIVED = []


def laboratory_system(port):
    """The laboratory's system: python-hl7's asyncio MLLP server, acknowledging each
    message (AA, python-hl7's own ACK) and keeping it."""

    async def serve(reader, writer):
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                RECEIVED.append(message)
                writer.writemessage(message.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            if not writer.is_closing():
                writer.close()
                await writer.wait_closed()

    async def run():
        server = await hl7.mllp.start_hl7_server(serve, host="127.0.0.1", port=port, encoding="utf-8")
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()


def laboratory_orders(doctor, facility):
    """The demo's HbA1c orders reach the laboratory's system as OML^O21 (Gongti retries
    until the server listens), each once, naming a registered patient by ID number."""
    want = os.environ["GONGTI_LIS_CODE"]
    task("the laboratory is the institution --hl7-send names", facility == want, f"{facility} / {want}")
    orders = []
    for _ in range(120):
        orders = [m for m in RECEIVED if str(m.segment("MSH")[9]) == "OML^O21^OML_O21"]
        if orders:
            time.sleep(2)  # the rest of the batch
            orders = [m for m in RECEIVED if str(m.segment("MSH")[9]) == "OML^O21^OML_O21"]
            break
        time.sleep(0.5)
    task("the laboratory's system gets the demo's orders (OML^O21)", len(orders) > 0, len(orders))
    controls = [str(m.segment("MSH")[10]) for m in orders]
    task("each message once", len(controls) == len(set(controls)), controls)
    first = orders[0]
    orc, obr = first.segment("ORC"), first.segment("OBR")
    task(
        "a new order with its placer number, to this laboratory",
        str(orc[1]) == "NW" and str(orc[2]) == str(obr[2]) and str(first.segment("MSH")[6]) == facility,
        str(first).replace("\r", " | ")[:300],
    )
    task("the test is the HbA1c by LOINC", str(obr[4]).startswith("4548-4^"), str(obr[4]))
    id_number = str(first.segment("PID")[3]).split("^")[0]
    found = get(f"/fhir/Patient?identifier={ID_SYSTEM}|{id_number}", doctor)
    task("the patient is found by the ID number in PID-3", found.get("total", len(found.get("entry", []))) >= 1)


def main():
    laboratory_system(int(os.environ["GONGTI_LIS_PORT"]))
    doctor = os.environ["GONGTI_DOCTOR_TOKEN"]
    specialist = os.environ["GONGTI_SPECIALIST_TOKEN"]
    hospital = get("/api/v1/me", specialist)["institution_id"]
    facility = get(f"/api/v1/institutions/{hospital}", specialist)["code"]
    laboratory_orders(doctor, facility)
    bundle = get("/fhir/Patient?_count=1", doctor)
    patient = bundle["entry"][0]["resource"]
    id_number = next(i["value"] for i in patient["identifier"] if i["system"] == ID_SYSTEM)
    potassium = ["OBX|1|NM|2823-3^钾^LN||6.9|mmol/L|3.5-5.3|HH|||F"]

    with MLLPClient("127.0.0.1", PORT) as client:
        a = answer(client.send_message(oru("PY-1", facility, id_number, potassium)))
        task("a potassium result is accepted (MLLPClient, UTF-8)", a[:2] == ("AA", "PY-1"), a)
        again = answer(client.send_message(oru("PY-1", facility, id_number, potassium)))
        task("the same control id again is answered AA, stored once", again[0] == "AA", again)
        unknown = answer(client.send_message(oru("PY-2", facility, "110105198001010016", potassium)))
        task("an unregistered ID number is held (AE)", unknown[0] == "AE", unknown)
        adt = "MSH|^~\\&|LIS|%s|G|C|20261201||ADT^A01|PY-3|P|2.5.1\r" % facility
        task("another message type is rejected (AR)", answer(client.send_message(adt))[0] == "AR")

    with MLLPClient("127.0.0.1", PORT, encoding="gb18030") as client:
        glucose = ["OBX|1|NM|14771-0^空腹血糖^LN||7.8|mmol/L|3.9-6.1|H|||F"]
        a = answer(client.send_message(oru("PY-4", facility, id_number, glucose, "GB 18030-2000")))
        task("a GB 18030 message is accepted", a[0] == "AA", a)

    path = os.path.join(os.environ["GONGTI_WORK"], "oru.hl7")
    hba1c = ["OBX|1|NM|4548-4^糖化血红蛋白^LN||7.4|%|4.0-6.0|H|||F"]
    # a file as an integrator keeps one: a segment a line (mllp_send --loose frames it)
    with open(path, "w", encoding="utf-8", newline="\r\n") as f:
        f.write(oru("PY-5", facility, id_number, hba1c).replace("\r", "\n"))
    run = subprocess.run(
        [os.environ["MLLP_SEND"], "--loose", "--file", path, "--port", str(PORT), "127.0.0.1"],
        capture_output=True, text=True, timeout=30,
    )
    out = run.stdout.replace("\r", "\n")
    task("mllp_send --loose sends a file and gets AA", run.returncode == 0 and "MSA|AA|PY-5" in out,
         (run.stderr or out).strip()[-200:])

    pid = patient["id"]
    seen = {}
    for _ in range(20):
        obs = get(f"/fhir/Observation?patient={pid}&category=laboratory&_count=50", doctor)
        seen = {
            c["code"]: o["resource"]
            for o in obs.get("entry", [])
            for c in o["resource"]["code"].get("coding", [])
        }
        if {"2823-3", "14771-0", "4548-4"} <= seen.keys():
            break
        time.sleep(0.2)
    task("the results are on the patient's record (FHIR)", {"2823-3", "14771-0", "4548-4"} <= seen.keys(), sorted(seen))
    k = seen["2823-3"]
    task(
        "the potassium carries its range, flag and value",
        k["valueQuantity"]["value"] == 6.9 and k["referenceRange"][0]["text"] == "3.5-5.3"
        and k["interpretation"][0]["coding"][0]["code"] == "HH",
    )


if __name__ == "__main__":
    main()
