"""Exit 0 when pip-audit's vulnerability service answers from here, else say what fails (exit 1).

`make audit` runs it first: pip-audit itself would report every dependency as "not found"
(PyPI) or crash on the connection (OSV), which says nothing about the dependencies.
"""
import sys
from importlib.metadata import version

import requests

# A release that certainly exists: the pip-audit that is running this check.
PROBES = {
    "pypi": ("GET", f"https://pypi.org/pypi/pip-audit/{version('pip-audit')}/json", None),
    "osv": ("POST", "https://api.osv.dev/v1/query",
            {"package": {"name": "pip-audit", "ecosystem": "PyPI"}, "version": version("pip-audit")}),
}


def main(service: str) -> int:
    method, url, body = PROBES[service]
    try:
        answer = requests.request(method, url, json=body, timeout=15)
    except requests.RequestException as exc:
        print(f"pip-audit: {service} vulnerability service unreachable: {method} {url}: "
              f"{exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    usable = answer.status_code == 200 and (service == "osv" or "vulnerabilities" in answer.text)
    if not usable:  # PyPI's per-release JSON carries a `vulnerabilities` list; OSV answers {}
        print(f"pip-audit: {service} vulnerability service unusable: {method} {url} answered "
              f"HTTP {answer.status_code} ({len(answer.content)} bytes)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "pypi"))
