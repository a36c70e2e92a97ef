"""The peer's only spec input is the generated catalog (spec/generated/catalog.json, or the file
$CONCORD_CATALOG names): records as spec/catalog.schema.json describes them, payload schemas standalone."""
import json
import os
import subprocess
import sys
from pathlib import Path

from concord import CATALOG, message_info
from concord._spec import CATALOG_FILE

PEER = Path(__file__).resolve().parents[1]
PROBE = "from concord import message_info; print(message_info('INIT').summary)"


def _run(env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=PEER, env=env, capture_output=True, text=True, timeout=60)


def test_loads_the_generated_catalog_with_standalone_payloads():
    assert CATALOG_FILE.parts[-2:] == ("generated", "catalog.json")
    doc = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    assert [m["name"] for m in doc["messages"]] == [e.name for e in sorted(CATALOG.values(), key=lambda e: e.code)]
    for e in CATALOG.values():
        assert "$ref" not in json.dumps(e.payload), e.name
    assert message_info("SERVICE_DISPATCH").payload_defaults == {"max_retries": 3}


def test_concord_catalog_names_the_file(tmp_path):
    doc = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    next(m for m in doc["messages"] if m["name"] == "INIT")["summary"] = "read from the copy"
    copy = tmp_path / "catalog.json"
    copy.write_text(json.dumps(doc), encoding="utf-8")
    r = _run({"CONCORD_CATALOG": str(copy)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "read from the copy"
    missing = _run({"CONCORD_CATALOG": str(tmp_path / "none.json")})
    assert missing.returncode != 0 and "none.json" in missing.stderr
