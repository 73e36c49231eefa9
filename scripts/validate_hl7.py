"""Checks HL7 v2 messages Gongti writes (ORU^R01 reports, OML^O21 orders) with an independent parser (PyPI `hl7apy`,
strict v2.5.1 validation): each file given is one message (segments separated by CR).
Prints each message's type, control id and PID-3, and exits non-zero on the first
that does not parse or validate."""
import sys

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read().strip().replace("\r\n", "\r").replace("\n", "\r")
    try:
        m = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        m.validate()
        if m.msh.msh_9.msh_9_1.value == "OML":
            pid = m.oml_o21_patient.pid
        else:
            pid = m.oru_r01_patient_result.oru_r01_patient.pid
        print(f"{path}: {m.msh.msh_9.value} {m.msh.msh_10.value} {pid.pid_3.value}")
    except Exception as e:  # noqa: BLE001 (any failure is the answer)
        print(f"{path}: {type(e).__name__}: {e}")
        sys.exit(1)
