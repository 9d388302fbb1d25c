"""Parses FHIR resources with the PyPI package fhir.resources (its R4B models).

Reads one JSON resource per line on stdin; prints one JSON line per resource
({type, id, valid, error}) and exits 1 when any resource fails to parse.
"""
import json
import sys

from fhir.resources.R4B import get_fhir_model_class

failed = 0
for line in sys.stdin:
    if not line.strip():
        continue
    resource = json.loads(line)
    error = None
    try:
        model = get_fhir_model_class(resource["resourceType"])
        if hasattr(model, "model_validate"):
            model.model_validate(resource)
        else:
            model.parse_obj(resource)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        error = str(e)
        failed += 1
    print(json.dumps({"type": resource.get("resourceType"), "id": resource.get("id"),
                      "valid": error is None, "error": error}))
sys.exit(1 if failed else 0)
