"""README's Python snippet runs as written (with the test server's key and address) and finds the memory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from testkit.server import MnemoServer

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_python_snippet_adds_waits_and_finds(server: MnemoServer, tmp_path: Path) -> None:
    snippet = re.search(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert snippet is not None, "README has no Python snippet"
    code = snippet.group(1).replace('"m0-..."', repr(server.api_key)).replace("http://127.0.0.1:8000", server.url)
    script = tmp_path / "snippet.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"MEM0_TELEMETRY": "False", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "San Francisco" in result.stdout
