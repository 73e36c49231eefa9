"""Validates every FHIR JSON file in a directory with fhir.resources (R4, 6.5.x).

Usage: python validate_fhir.py DIR   — exits non-zero on the first invalid resource.
"""
import json
import pathlib
import sys

from fhir.resources import construct_fhir_element


def main(directory: str) -> int:
    files = sorted(pathlib.Path(directory).glob("*.json"))
    if not files:
        print("no FHIR files found")
        return 1
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        try:
            resource = construct_fhir_element(data["resourceType"], data)
            if data["resourceType"] == "Bundle":
                for entry in data.get("entry", []):
                    # A transaction-response entry may carry only its response.
                    for inner in (entry.get("resource"), entry.get("response", {}).get("outcome")):
                        if inner is not None:
                            construct_fhir_element(inner["resourceType"], inner)
        except Exception as error:  # noqa: BLE001 — report any validation failure
            print(f"{path.name}: INVALID\n{error}")
            return 1
        print(f"{path.name}: valid {resource.resource_type}")
    print(f"{len(files)} valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
